import Foundation
import LifelongEngine
import LifelongFormats

/// A model as another tool names it: the `config.json` keys of the class that loads it and its
/// tensors under that class's names.
public struct ExportedModel {
    public var config: [String: Any]
    public var tensors: [(name: String, tensor: Tensor)]
}

extension DecoderLM {
    /// The model as its family's Hugging Face class loads it (`GPT2LMHeadModel`,
    /// `LlamaForCausalLM`, `Qwen2ForCausalLM`). SLM's low-rank slots are left out: the frozen
    /// backbone is exported (its slots leave as PEFT adapters). A model with mixtures of experts
    /// becomes `MixtralForCausalLM` (`mixtralExport()`).
    public func huggingFaceExport() throws -> ExportedModel {
        if !modules(of: MixtureOfExperts.self).isEmpty { return try mixtralExport() }
        return ExportedModel(config: config.family.huggingFaceConfig(config), tensors: backboneParameters)
    }

    /// Every parameter but the slots of the low-rank mixture layers: the model with each such
    /// layer's base projection back in its place, under the family's own names.
    public var backboneParameters: [(name: String, tensor: Tensor)] {
        let slotPrefixes = modules(of: LowRankMixtureLinear.self).map { "\($0.path).slots." }
        return namedParameters.filter { name, _ in !slotPrefixes.contains { name.hasPrefix($0) } }
    }

    /// The model as a GGUF file of its family (`general.architecture` and the family's metadata,
    /// llama.cpp's tensor names, q and k rows in llama.cpp's interleaved rotary order), matrices
    /// stored as `storage`: what `DecoderLM(gguf:)` and llama.cpp read. The tokenizer's keys are
    /// the caller's. SLM's slots are left out (the backbone is exported).
    public func ggufExport(storage: GGUFWriter.Storage, name: String) throws -> GGUFWriter {
        guard let layout = config.family.gguf else {
            throw RequestError("the \(config.architecture.rawValue) family has no GGUF layout here (GGUF export and loading are for "
                               + DecoderFamilies.all.filter { $0.gguf != nil }.map { $0.architecture.rawValue }.joined(separator: ", ") + ")")
        }
        if !modules(of: MixtureOfExperts.self).isEmpty {
            throw RequestError("a model with mixtures of experts (Lifelong-MoE) has no GGUF export here: use --format hf (Mixtral)")
        }
        var file = GGUFWriter()
        let a = layout.architecture
        let fileType: UInt32 = switch storage { case .f32: 0; case .f16: 1; case .q8_0: 7 }
        file.set("general.architecture", .string(a))
        file.set("general.name", .string(name))
        file.set("general.file_type", .uint32(fileType))
        var sizes = [("context_length", config.maxPositions), ("embedding_length", config.hiddenSize),
                     ("block_count", config.layerCount), ("feed_forward_length", config.intermediateSize),
                     ("attention.head_count", config.headCount), ("attention.head_count_kv", config.kvHeadCount),
                     ("vocab_size", config.vocabSize)]
        if !config.hasLearnedPositions { sizes.append(("rope.dimension_count", config.headDim)) }
        for (key, value) in sizes { file.set("\(a).\(key)", .uint32(UInt32(value))) }
        file.set("\(a).\(layout.normEpsilonKey)", .float32(config.normEpsilon))
        if !config.hasLearnedPositions { file.set("\(a).rope.freq_base", .float32(config.ropeTheta)) }
        for (name, tensor) in backboneParameters {
            guard let ggufName = ggufName(name, layout) else {
                throw RequestError("parameter '\(name)' has no GGUF name in the \(a) layout")
            }
            let stored = layout.isTransposed(name, blocks: names.blocks) ? tensor.transposedValues() : tensor  // GPT-2's Conv1D as [out, in]
            var values = stored.scalars
            if layout.rotaryRowsPermuted, let heads = name.hasSuffix("q_proj.weight") ? config.headCount
                : name.hasSuffix("k_proj.weight") ? config.kvHeadCount : nil {
                values = rowsInInterleavedRotaryOrder(values, rows: tensor.shape[0], heads: heads)
            }
            file.add(ggufName, shape: stored.shape, values: values, storage: storage)
        }
        return file
    }
}

/// Rows [out, in] of `values` moved from the rotate-half layout to llama.cpp's interleaved one,
/// the inverse of what the GGUF loader does.
private func rowsInInterleavedRotaryOrder(_ values: [Float], rows: Int, heads: Int) -> [Float] {
    let columns = values.count / rows
    var out = values
    for (row, from) in rotaryRowSource(rows: rows, heads: heads).enumerated() {
        out.replaceSubrange((from * columns)..<((from + 1) * columns), with: values[(row * columns)..<((row + 1) * columns)])
    }
    return out
}
