// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import SafeTensors
import TensorCore

/// Writes a LoRA adapter as a PEFT adapter directory (`PeftModel.from_pretrained` loads it).
///
/// The directory holds `adapter_config.json` (keys sorted, two-space indent, like PEFT's
/// `json.dumps(indent=2, sort_keys=True)` in `PeftConfigMixin.save_pretrained`) and `adapter_model.safetensors` with
/// `base_model.model.<module>.lora_A.weight` F32 `(r, in)` and `.lora_B.weight` F32 `(out, r)` and metadata
/// `{"format": "pt"}` (PEFT `save_pretrained` key layout, `tuners/lora/layer.py` shapes). `target_modules` is always
/// an explicit list: a null list makes PEFT fall back to q/v only and silently drop the other factors.
public enum PEFTAdapterWriter {
    /// The config file name.
    public static let configFileName = "adapter_config.json"
    /// The weights file name.
    public static let weightsFileName = "adapter_model.safetensors"

    /// Writes `contents` as the directory `directory`, atomically (nothing is left there on failure).
    ///
    /// - Parameters:
    ///   - hyperparameters: the base model's, for checking the targets and shapes.
    ///   - baseModel: `base_model_name_or_path`, or nil to write null.
    ///   - overwrite: allow replacing an existing directory.
    /// - Throws: ``AdapterWriteError`` for invalid contents or a failed write.
    public static func write(
        _ contents: LoRAAdapterContents, to directory: URL, for hyperparameters: LlamaHyperparameters,
        baseModel: String?, overwrite: Bool = false
    ) throws(AdapterWriteError) {
        let path = directory.path
        try contents.validate(for: hyperparameters, path: path)
        do {
            let output = try AtomicOutput(destination: directory, isDirectory: true, overwrite: overwrite)
            let config = output.temporaryURL.appendingPathComponent(configFileName)
            let stream = try FileOutputStream(url: config)
            try stream.write(Array(configJSON(contents, baseModel: baseModel).text(indent: 2).utf8))
            try stream.synchronize()
            try writeWeights(contents, to: output.temporaryURL.appendingPathComponent(weightsFileName))
            try output.commit()
        } catch let error as AdapterWriteError {
            throw error
        } catch {
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// The `adapter_config.json` document for `contents`, keys sorted.
    public static func configJSON(_ contents: LoRAAdapterContents, baseModel: String?) -> JSONValue {
        let alpha: JSONValue =
            contents.alpha.rounded() == contents.alpha && abs(contents.alpha) < 1e15
            ? .integer(Int(contents.alpha)) : .number(contents.alpha)
        let entries: [(String, JSONValue)] = [
            ("alpha_pattern", .object([])),
            ("base_model_name_or_path", baseModel.map(JSONValue.string) ?? .null),
            ("bias", .string("none")),
            ("fan_in_fan_out", .bool(false)),
            ("inference_mode", .bool(false)),
            ("init_lora_weights", .bool(true)),
            ("layers_pattern", .null),
            ("layers_to_transform", .null),
            ("lora_alpha", alpha),
            ("lora_dropout", .number(0)),
            ("modules_to_save", .null),
            ("peft_type", .string("LORA")),
            ("r", .integer(contents.rank)),
            ("rank_pattern", .object([])),
            ("revision", .null),
            ("target_modules", .array(contents.targetModules.map(JSONValue.string))),
            ("task_type", .string("CAUSAL_LM")),
            ("use_dora", .bool(false)),
            ("use_rslora", .bool(contents.scaling == .rankStabilized)),
        ]
        return .object(entries)
    }

    /// The safetensors key of a factor of the module `module` (`lora_A` or `lora_B`).
    static func tensorName(module: String, factor: String) -> String {
        "base_model.model.\(module).\(factor).weight"
    }

    private static func writeWeights(_ contents: LoRAAdapterContents, to url: URL) throws {
        var matrices: [String: Matrix] = [:]
        var entries: [SafeTensorsWriter.Entry] = []
        for name in contents.weightNames {
            guard let pair = contents.factors[name] else { continue }
            let module = LoRAAdapterContents.moduleName(of: name)
            for (factor, matrix) in [("lora_A", pair.a), ("lora_B", pair.b)] {
                let key = tensorName(module: module, factor: factor)
                matrices[key] = matrix
                entries.append(.init(name: key, dtype: .f32, shape: [matrix.rows, matrix.columns]))
            }
        }
        try SafeTensorsWriter.write(to: url, tensors: entries) { entry, stream in
            try matrices[entry.name, default: Matrix(zeros: 0, 0)].values.withUnsafeBytes { try stream.write($0) }
        }
    }
}
