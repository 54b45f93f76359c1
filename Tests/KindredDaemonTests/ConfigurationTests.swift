import Foundation
import KindredEngine
import KindredFeatures
import KindredServer
import KindredTestSupport
import Testing

@Suite struct ConfigurationTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../Schema/kindred.toml"
    ).standardizedFileURL

    @Test func theDocumentedFileIsExactlyTheDefaults() throws {
        #expect(try Configuration.load(file: Self.schema) == Configuration())
    }

    /// A configuration path that names something endless, or a binary file, is refused with the
    /// reason rather than read into memory or parsed.
    @Test func aFileThatIsNotAConfigurationIsRefusedBeforeItIsHeld() throws {
        #expect { try Configuration.load(file: URL(fileURLWithPath: "/dev/zero")) } throws: {
            "\($0)".contains("/dev/zero is larger than the 1048576 bytes such a file may be")
        }
        let binary = temporaryDirectory("config").appendingPathComponent("k.toml")
        defer { try? FileManager.default.removeItem(at: binary.deletingLastPathComponent()) }
        try Data([0x5B, 0xFF, 0xFE, 0x5D]).write(to: binary)
        #expect { try Configuration.load(file: binary) } throws: { "\($0)".contains("is not UTF-8 text") }
    }

    @Test func valuesAreReadAndTyped() throws {
        let c = try Configuration.parse(
            """
            [daemon]
            threads = 3
            [watch]
            roots = ["/srv/art"]
            settle_seconds = 2
            exclude = ["*/thumbs/*"]
            [index]
            ef_search = 128
            """)
        #expect(
            c.threads == 3 && c.roots == ["/srv/art"] && c.settleSeconds == 2 && c.exclude == ["*/thumbs/*"]
                && c.efSearch == 128)
        #expect(c.include == Configuration().include, "keys not given keep their defaults")
        #expect(c.fusion.expansion == .standard)
        let off = try Configuration.parse("[similar]\nexpand_neighbours = 0")
        #expect(off.fusion.expansion == nil, "0 neighbours: no expansion")
        let region = try Configuration.parse("[similar]\nregion_weight = 0\nregion_floor = 0.5\nregion_items = true")
        #expect(region.fusion.weights.region == 0 && region.fusion.weights.regionFloor == 0.5)
        #expect(region.fusion.regionForItems && !Configuration().fusion.regionForItems)
        let fp32 = try Configuration.parse("[ingest]\ncnn_precision = \"fp32\"")
        #expect(fp32.cnnPrecision == .fp32 && fp32.collectionSettings.cnnPrecision == .fp32)
        // The default, auto, and int16 asked for, each as this CPU runs it (CNNPrecisionTests
        // checks what that is).
        #expect(Configuration().cnnPrecision == .auto)
        #expect(Configuration().collectionSettings.cnnPrecision == CNNPrecisionChoice.auto.onThisCPU.precision)
        let int16 = try Configuration.parse("[ingest]\ncnn_precision = \"int16\"")
        #expect(int16.collectionSettings.cnnPrecision == CNNPrecisionChoice.int16.onThisCPU.precision)
    }

    /// A small max_connections shrinks the admins' reserve when it is not set.
    @Test func theAdminReserveFitsASmallConnectionLimit() throws {
        #expect(try Configuration.parse("[protocol]\nmax_connections = 4").adminReservedConnections == 3)
        #expect(try Configuration.parse("[protocol]\nmax_connections = 1").adminReservedConnections == 0)
        #expect(try Configuration.parse("").adminReservedConnections == 8)
    }

    @Test(arguments: [
        ("[index]\nmm = 3", "configuration key index.mm: unknown key (Schema/kindred.toml lists every key)"),
        ("[indx]\nm = 3", "configuration key indx: unknown key (Schema/kindred.toml lists every key)"),
        ("[index]\nm = \"16\"", "configuration key index.m: must be an integer"),
        (
            "[index]\nm = 1",
            "configuration key index.m/ef_construction: M (connectivity) = 1 is invalid: it must be between 2 and 512; 12 to 48 suits most data, 16 is the usual default"
        ),
        ("[watch]\nroots = [\"art\"]", "configuration key watch.roots: 'art' must be an absolute path"),
        ("[watch]\nroots = \"/art\"", "configuration key watch.roots: must be an array of strings"),
        (
            "[daemon]\nlog_level = \"loud\"",
            "configuration key daemon.log_level: 'loud' is not one of trace, debug, info, notice, warning, error, critical"
        ),
        ("daemon = 3", "configuration key daemon: must be a table ([daemon])"),
        (
            "[ingest]\ncnn_precision = \"int8\"",
            "configuration key ingest.cnn_precision: 'int8' is not one of auto, fp32, int16"
        ),
        (
            "[similar]\nexpand_neighbours = 11",
            "configuration key similar.expand_neighbours: 11 must be 0 (no expansion) to 10, and at most similar.candidates"
        ),
        ("[similar]\nexpand_below = 1.5", "configuration key similar.expand_below: 1.5 must be 0 to 1"),
        ("[similar]\nregion_weight = -1", "configuration key similar.region_weight: -1.0 must be 0 to 10"),
        ("[similar]\nregion_floor = 1", "configuration key similar.region_floor: 1.0 must be 0 to 0.99"),
        (
            "[protocol]\nmax_connections = 4\nadmin_reserved_connections = 4",
            "configuration key protocol.admin_reserved_connections: 4 must be 0 to 3 (max_connections − 1)"
        ),
        (
            "[protocol]\nimage_bytes_in_flight = 1000",
            "configuration key protocol.image_bytes_in_flight: 1000 must be 1048576 (1 MiB) to 1099511627776 (1 TiB)"
        ),
        (
            "[protocol]\nsend_min_bytes_per_second = -1",
            "configuration key protocol.send_min_bytes_per_second: -1 must be 0 to 1048576 (1 MiB)"
        ),
        (
            "[protocol]\nsend_min_bytes_per_second = 9223372036854775807",
            "configuration key protocol.send_min_bytes_per_second: 9223372036854775807 must be 0 to 1048576 (1 MiB)"
        ),
        (
            "[daemon\n",
            "configuration: configuration line 1, column 8: Error while parsing table header: expected ']', saw '\\n'"
        ),
    ])
    func badConfigurationsNameTheKeyAndTheReason(text: String, message: String) {
        #expect { try Configuration.parse(text) } throws: { "\($0)" == message }
    }
}
