import ArgumentParser
import KindredCore

@main
struct Kindred: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kindred",
        abstract:
            "Query and maintain a Kindred image-similarity database, or run its pipeline stages offline on .npy files.",
        version: KindredVersion.string,
        subcommands: [
            Similar.self, Status.self, Info.self, Duplicates.self, Errors.self, Rescan.self, Watch.self, Unwatch.self,
            Backup.self, Refit.self, Runs.self, Clusters.self, Cluster.self, NameCluster.self, Export.self,
            MapCommand.self,
            ReportCommand.self, SheetCommand.self, Embed.self, Classify.self, StoreCommand.self, IndexCommand.self,
            ModelCommand.self, Analyze.self, BenchCommand.self,
        ]
    )
}
