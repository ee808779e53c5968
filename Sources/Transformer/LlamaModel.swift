// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// A llama-family decoder run on the CPU in F32, one whole chunk of tokens at a time.
///
/// The math is transformers' `LlamaForCausalLM` (embedding, per block `x += o_proj(attn(rmsnorm(x)))` and
/// `x += down(silu(gate(rmsnorm(x))) ⊙ up(rmsnorm(x)))`, final RMSNorm, output head), prompt-processing style:
/// every linear layer is an `sgemm` over all `T` positions of the chunk, attention is causal within the chunk
/// (positions `0..<T`, no KV cache). Weights come from a ``LayerWeightsSource`` block by block; ``residency``
/// decides whether they stay in memory between calls.
///
/// Threading: linear layers, attention and the element-wise kernels split their work over ``threadCount`` Dispatch
/// workers that call OpenBLAS single-threaded (OpenBLAS's own pool stays asleep). The pass sets OpenBLAS to one
/// thread and restores the caller's count at the end. Not reentrant: one forward pass at a time per process.
public final class LlamaModel<Source: LayerWeightsSource> {
    /// The model's shape.
    public let configuration: LlamaConfiguration
    /// Where weights come from.
    public let source: Source
    /// What stays in memory between calls.
    public let residency: WeightResidency
    /// Threads a forward pass uses.
    public let threadCount: Int
    private var residentLayers: [PackedLayer?]
    private var residentHead: LlamaHeadWeights?
    private var workspace: Workspace?
    /// The last logits returned; reused by the next pass when the caller has let go of them.
    private var logits: [Float] = []
    /// About how many bytes of F32 output rows a streamed pass decodes at a time.
    var outputBlockBytes = 8 << 20

    /// Creates a model. No weights are loaded until the first forward pass.
    ///
    /// - Parameter threads: threads per forward pass; by default OpenBLAS's thread count (`OPENBLAS_NUM_THREADS`,
    ///   else the number of cores).
    public init(
        configuration: LlamaConfiguration, source: Source, residency: WeightResidency = .resident,
        threads: Int? = nil
    ) {
        self.configuration = configuration
        self.source = source
        self.residency = residency
        threadCount = max(1, threads ?? BLAS.threadCount)
        residentLayers = Array(repeating: nil, count: configuration.layerCount)
    }

    /// Runs the model on `tokens` (positions `0..<T`) and returns the logits of `logitRows`, `(rows, V)`.
    ///
    /// - Parameters:
    ///   - tokens: `T ≥ 1` token ids in `0..<V`.
    ///   - logitRows: the positions whose logits are wanted (all by default); perplexity needs only the scored half.
    ///   - observer: receives every linear layer's input and the hidden states; nil costs nothing.
    /// - Throws: what the source throws while loading weights.
    /// Traps if a token id is out of range or the source returns weights of the wrong shape.
    public func forward(
        tokens: [Int], logitRows: Range<Int>? = nil, observer: (any ActivationObserving)? = nil
    ) throws(Source.Failure) -> Matrix {
        let c = configuration
        let rows = tokens.count
        let outputRows = logitRows ?? 0..<rows
        precondition(rows > 0 && outputRows.lowerBound >= 0 && outputRows.upperBound <= rows, "bad rows")
        precondition(tokens.allSatisfy { $0 >= 0 && $0 < c.vocabSize }, "token id out of range")
        let blasThreads = BLAS.threadCount
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(blasThreads) }

        let work = workspace.flatMap { $0.rows == rows ? $0 : nil } ?? Workspace(rows: rows, configuration: c)
        workspace = work
        let stream = UnsafeBufferPointer(start: work.hidden, count: rows * c.hiddenSize)
        let embedded = try source.embeddings(of: tokens)
        precondition(embedded.rows == rows && embedded.columns == c.hiddenSize, "bad embedding rows")
        _ = UnsafeMutableBufferPointer(start: work.hidden, count: rows * c.hiddenSize).update(from: embedded.values)
        observer?.observe(HiddenState(stage: .embeddings, rows: rows, columns: c.hiddenSize, values: stream))

        let rotary = RotaryTable(positions: 0..<rows, headDim: c.headDim, theta: c.ropeTheta, scaling: c.ropeScaling)
        for index in 0..<c.layerCount {
            let weights = try layer(index)
            decoderBlock(weights, index: index, rows: rows, rotary: rotary, work: work, observer: observer)
            observer?.observe(HiddenState(stage: .afterLayer(index), rows: rows, columns: c.hiddenSize, values: stream))
        }

        // A streamed pass reads the output projection a block of rows at a time instead of expanding it whole.
        let head = residency == .resident ? try self.head() : nil
        let outputNorm: [Float]
        if let head { outputNorm = head.outputNorm } else { outputNorm = try source.outputNorm() }
        precondition(outputNorm.count == c.hiddenSize, "output norm does not match the configuration")
        normalize(work.hidden, outputNorm, rows: rows, into: work.normed)
        observer?.observe(
            HiddenState(
                stage: .finalNorm, rows: rows, columns: c.hiddenSize,
                values: UnsafeBufferPointer(start: work.normed, count: rows * c.hiddenSize)))
        // logits (R, V) = normed[outputRows] (R, C) · outputᵀ, into the previous pass's buffer when it is unshared
        // (a fresh 50 MB array per 512-token chunk costs its page faults every time).
        let count = outputRows.count * c.vocabSize
        if logits.count != count { logits = [Float](repeating: 0, count: count) }
        let normed = work.normed + outputRows.lowerBound * c.hiddenSize
        let blockRows = head == nil ? max(featureAlignment, outputBlockBytes / (4 * c.hiddenSize)) : c.vocabSize
        for first in stride(from: 0, to: c.vocabSize, by: blockRows) {
            let range = first..<min(c.vocabSize, first + blockRows)
            let output: Matrix
            if let head { output = head.output } else { output = try source.outputRows(range) }
            precondition(
                output.rows == range.count && output.columns == c.hiddenSize,
                "output weights do not match the configuration")
            logits.withUnsafeMutableBufferPointer { out in
                guard let base = out.baseAddress else { return }
                linear(
                    normed, rows: outputRows.count, weight: output, into: base + first, outStride: c.vocabSize,
                    threads: threadCount)
            }
        }
        return Matrix(rows: outputRows.count, columns: c.vocabSize, values: logits)
    }

    /// One `LlamaDecoderLayer`: pre-norm attention and pre-norm SwiGLU MLP, each added to the residual stream.
    private func decoderBlock(
        _ w: PackedLayer, index: Int, rows: Int, rotary: RotaryTable, work: Workspace,
        observer: (any ActivationObserving)?
    ) {
        let c = configuration
        let threads = threadCount
        func observe(_ group: LinearGroup, _ values: UnsafeMutablePointer<Float>, _ columns: Int) {
            observer?.observe(
                LinearInput(
                    layer: index, group: group, rows: rows, columns: columns,
                    values: UnsafeBufferPointer(start: values, count: rows * columns)))
        }
        // Attention: normed (T, C) → [q | k | v] (T, H·hd + 2·Hkv·hd), + bias → heads (T, H·hd)
        //   → hidden += heads · Woᵀ
        normalize(work.hidden, w.attentionNorm, rows: rows, into: work.normed)
        observe(.attentionInput, work.normed, c.hiddenSize)
        let stride = c.queryWidth + 2 * c.keyValueWidth
        linear(work.normed, rows: rows, weights: w.queryKeyValue, into: work.queryKeyValue, threads: threads)
        if let bias = w.queryKeyValueBias {
            addBias(bias, to: work.queryKeyValue, rows: rows, threads: threads)
        }
        let query = work.queryKeyValue
        let key = query + c.queryWidth
        let value = key + c.keyValueWidth
        applyRotary(key, rows: rows, heads: c.kvHeadCount, rowStride: stride, table: rotary, threads: threads)
        causalAttention(
            query: query, queryStride: stride, key: key, value: value, keyValueStride: stride, rows: rows,
            rotary: rotary, configuration: c, into: work.attention, threads: threads)
        observe(.attentionOutput, work.attention, c.queryWidth)
        linear(
            work.attention, rows: rows, weight: w.attentionOutput, into: work.hidden, accumulate: true, threads: threads
        )

        // MLP: normed (T, C) → [gate | up] (T, 2F) → silu(gate) ⊙ up (T, F) → hidden += product · Wdᵀ
        normalize(work.hidden, w.feedForwardNorm, rows: rows, into: work.normed)
        observe(.feedForwardInput, work.normed, c.hiddenSize)
        linear(work.normed, rows: rows, weights: w.gateUp, into: work.gateUp, threads: threads)
        swiGLU(gateUp: work.gateUp, rows: rows, width: c.intermediateSize, into: work.product, threads: threads)
        observe(.feedForwardProduct, work.product, c.intermediateSize)
        linear(work.product, rows: rows, weight: w.down, into: work.hidden, accumulate: true, threads: threads)
    }

    /// RMSNorm of the residual stream `(T, C)` with gain `weight` into `out`.
    private func normalize(
        _ x: UnsafeMutablePointer<Float>, _ weight: [Float], rows: Int, into out: UnsafeMutablePointer<Float>
    ) {
        weight.withUnsafeBufferPointer { gain in
            guard let gain = gain.baseAddress else { return }
            rmsNorm(
                x, weight: gain, epsilon: configuration.rmsNormEpsilon, rows: rows, columns: configuration.hiddenSize,
                into: out, threads: threadCount)
        }
    }

    /// Block `index`, packed; traps if the source's weights do not match the configuration.
    private func layer(_ index: Int) throws(Source.Failure) -> PackedLayer {
        if let cached = residentLayers[index] { return cached }
        let weights = try source.layerWeights(at: index)
        precondition(weights.matches(configuration), "layer \(index) weights do not match the configuration")
        let packed = PackedLayer(weights, stacked: residency == .resident)
        if residency == .resident { residentLayers[index] = packed }
        return packed
    }

    /// The resident head, loaded on first use.
    private func head() throws(Source.Failure) -> LlamaHeadWeights {
        if let residentHead { return residentHead }
        let weights = try source.headWeights()
        precondition(
            weights.output.rows == configuration.vocabSize && weights.output.columns == configuration.hiddenSize,
            "head weights do not match the configuration")
        residentHead = weights
        return weights
    }

    /// Drops every resident weight and the activation buffers (the next forward pass loads again).
    public func releaseWeights() {
        residentLayers = Array(repeating: nil, count: configuration.layerCount)
        residentHead = nil
        workspace = nil
        logits = []
    }
}
