// SPDX-License-Identifier: Apache-2.0
import Dispatch

/// Wall time spent encoding tensors (the quantizer calls only: no reading, dequantizing of the source,
/// permuting or writing), summed over the tensors of one `quail quantize` run.
final class EncodingClock {
    /// Seconds measured so far.
    private(set) var seconds: Double = 0

    /// Runs `body` and adds its wall time.
    func measure<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }
}
