import ArgumentParser

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Install the EfficientNet-Lite0 ImageNet weights.",
        subcommands: [ModelInstall.self]
    )
}
