import ArgumentParser
import Foundation
import LifelongFormats
import LifelongLearning

extension RunExport.Format: ExpressibleByArgument {}
extension GGUFWriter.Storage: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a trained run for other tools: hf (transformers), gguf (llama.cpp, Ollama), peft (SLM's adapters, pseudo-samples, predictions).",
        discussion: """
            hf: a directory for AutoModelForCausalLM / AutoTokenizer.from_pretrained (a Lifelong-MoE model as Mixtral). \
            gguf: DIR/model.gguf (GPT-2, Llama and Qwen2 models). peft: SLM's slots as LoRA adapters with their retrieval keys, and \
            every run's pseudo-samples and final predictions as JSONL. The output directory must not exist \
            (--overwrite replaces an earlier export, nothing else); it appears complete or not at all.
            """)
    @Argument(help: "The run directory (runs/<name>).") var runDirectory: String
    @Option(help: "A checkpoint folder under checkpoints/ (default: the newest).") var checkpoint: String?
    @Option(help: "hf, gguf or peft.") var format: RunExport.Format
    @Option(help: "The directory to create.") var output: String
    @Option(help: "How a GGUF export stores its matrices: f32, f16 or q8_0 (norms stay f32).") var ggufType: GGUFWriter.Storage = .f16
    @Flag(help: "Replace --output if it is an earlier export.") var overwrite = false

    func run() throws {
        let export = try RunExport(runDirectory: runDirectory, checkpoint: checkpoint)
        let notes = try export.write(format, to: output, overwrite: overwrite, ggufStorage: ggufType)
        for note in notes { print("Note: \(note)") }
        print("\(output): \(format.rawValue) export of \((export.checkpoint as NSString).lastPathComponent) (\(export.model.config.architecture.rawValue), vocabulary \(export.model.config.vocabSize))")
    }
}
