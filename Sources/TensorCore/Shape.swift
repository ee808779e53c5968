// SPDX-License-Identifier: Apache-2.0

/// Overflow-checked element and byte counts for tensor shapes (row-major, outermost dimension first).
public enum Shape {
    /// The number of elements of `dims`, or nil when a dimension is negative or the product overflows `Int`.
    ///
    /// An empty shape is a scalar with one element; any zero dimension gives zero elements.
    public static func elementCount(_ dims: [Int]) -> Int? {
        var count = 1
        for dim in dims {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// The number of bytes of a tensor of `dims` with `bytesPerElement`, or nil on overflow or negative dims.
    public static func byteCount(_ dims: [Int], bytesPerElement: Int) -> Int? {
        guard let count = elementCount(dims) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: bytesPerElement)
        return overflow ? nil : bytes
    }

    /// Rounds `value` up to a multiple of `alignment` (a positive power of two), or nil on overflow.
    public static func alignUp(_ value: Int, to alignment: Int) -> Int? {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }
}
