import ArgumentParser
import KindredStore

struct StoreInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract:
            "List vector spaces with their counts and disk bytes (an item too), and the catalog's items by status.")

    @OptionGroup var state: StateOptions
    @OptionGroup var logging: LoggingOptions
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let logger = logging.logger("kindred.store")
        let paths = state.paths
        let store = try VectorStore(directory: paths.vectors, spaces: [], includeRegistered: true, logger: logger)
        let catalog = try Catalog(url: paths.catalog, logger: logger)
        let spaces = store.spaces.values.sorted { $0.name < $1.name }
        var counts: [String: Int] = [:], usage: [String: SpaceUsage] = [:]
        for space in spaces {
            counts[space.name] = try store.count(space: space.name)
            usage[space.name] = try store.usage(space: space.name)
        }
        let statuses = try catalog.statusCounts()
        if json {
            printJSONLine([
                "state": paths.root.path,
                "map_bytes": store.mapSize,
                "spaces": spaces.map {
                    [
                        "name": $0.name, "dimension": $0.dimension, "element": "\($0.element)", "producer": $0.producer,
                        "count": counts[$0.name]!, "bytes": usage[$0.name]!.bytes,
                        "bytes_per_item": Int(usage[$0.name]!.bytesPerEntry.rounded()),
                        "overflow_pages": usage[$0.name]!.overflowPages,
                    ]
                },
                "items": Dictionary(uniqueKeysWithValues: statuses.map { ($0.key.rawValue, $0.value) }),
            ])
            return
        }
        print("state\t\(paths.root.path)")
        print("map\t\(store.mapSize / (1 << 20)) MiB")
        for space in spaces {
            print(
                "space\t\(space.name)\t\(space.dimension) × \(space.element)\tproducer v\(space.producer)\t\(counts[space.name]!) vectors"
                    + "\t\(usage[space.name]!.bytes) bytes (\(Int(usage[space.name]!.bytesPerEntry.rounded())) an item)"
            )
        }
        for status in ItemStatus.allCases { print("items\t\(status.rawValue)\t\(statuses[status]!)") }
    }
}
