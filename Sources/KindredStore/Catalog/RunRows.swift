import Foundation
import KindredCore

/// A refit run's records as text rows and back: what `RUN`, `RUN-CLUSTERS` and `RUN-MEMBERS`
/// carry (Schema/protocol.md), so a map or report can be drawn through kindredd's socket by a user
/// who may not read the state directory. The encoder and the decoder sit together here; numbers
/// are written in Swift's shortest round-trip form, so a decoded record equals the stored one.
public enum RunRows {
    public static let runColumns = [
        "id", "started", "finished", "status", "current", "algorithm", "parameters", "items", "clusters",
        "noise_fraction", "silhouette", "metrics", "timings", "error",
    ]
    public static let clusterColumns = [
        "cluster", "size", "exemplar_id", "silhouette", "born_run", "matched_jaccard", "label", "name",
    ]
    public static let memberColumns = [
        "id", "path", "cluster", "probability", "outlier_score", "x2", "y2", "x3", "y3", "z3", "neighbours",
    ]

    public struct DecodingError: Error, CustomStringConvertible {
        public let description: String
    }

    static func text<T: LosslessStringConvertible>(_ value: T?) -> String { value.map(String.init(describing:)) ?? "" }

    static func value<T: LosslessStringConvertible>(_ field: String, _ name: String) throws(DecodingError) -> T? {
        guard !field.isEmpty else { return nil }
        guard let value = T(field) else { throw DecodingError(description: "\(name) '\(field)' is not a \(T.self)") }
        return value
    }

    static func required<T: LosslessStringConvertible>(_ field: String, _ name: String) throws(DecodingError) -> T {
        guard let value: T = try value(field, name) else { throw DecodingError(description: "\(name) is missing") }
        return value
    }

    static func fields(_ row: [String], _ columns: [String]) throws(DecodingError) -> [String] {
        guard row.count == columns.count else {
            throw DecodingError(description: "a row of \(row.count) fields, expected \(columns.count)")
        }
        return row
    }

    public static func row(_ run: RefitRun) -> [String] {
        [
            String(run.id), String(run.startedAt), text(run.finishedAt), run.status, run.isCurrent ? "yes" : "no",
            run.algorithm, run.parameters,
            text(run.itemCount), text(run.clusterCount), text(run.noiseFraction), text(run.silhouette), run.metrics,
            run.timings, run.error ?? "",
        ]
    }

    public static func run(_ row: [String]) throws(DecodingError) -> RefitRun {
        let f = try fields(row, runColumns)
        return RefitRun(
            id: try required(f[0], "id"), startedAt: try required(f[1], "started"),
            finishedAt: try value(f[2], "finished"),
            status: f[3], isCurrent: f[4] == "yes", algorithm: f[5], parameters: f[6],
            itemCount: try value(f[7], "items"),
            clusterCount: try value(f[8], "clusters"), noiseFraction: try value(f[9], "noise_fraction"),
            silhouette: try value(f[10], "silhouette"), metrics: f[11], timings: f[12],
            error: f[13].isEmpty ? nil : f[13])
    }

    public static func row(_ cluster: ClusterFacts) -> [String] {
        [
            String(cluster.cluster), String(cluster.size), text(cluster.exemplar?.rawValue), text(cluster.silhouette),
            String(cluster.bornRunID),
            text(cluster.matchedJaccard), cluster.label ?? "", cluster.name ?? "",
        ]
    }

    public static func cluster(_ row: [String]) throws(DecodingError) -> ClusterFacts {
        let f = try fields(row, clusterColumns)
        return ClusterFacts(
            cluster: try required(f[0], "cluster"), size: try required(f[1], "size"),
            exemplar: (try value(f[2], "exemplar_id") as UInt64?).map { ItemID($0) },
            silhouette: try value(f[3], "silhouette"),
            bornRunID: try required(f[4], "born_run"), matchedJaccard: try value(f[5], "matched_jaccard"),
            label: f[6].isEmpty ? nil : f[6], name: f[7].isEmpty ? nil : f[7])
    }

    public static func row(_ member: (assignment: Assignment, path: String)) -> [String] {
        let a = member.assignment
        return [
            String(a.item.rawValue), member.path, String(a.cluster), text(a.probability), text(a.outlierScore),
            text(a.map2.0), text(a.map2.1), text(a.map3.0), text(a.map3.1), text(a.map3.2),
            a.neighbours.map { String($0.rawValue) }.joined(separator: ","),
        ]
    }

    public static func member(_ row: [String]) throws(DecodingError) -> (assignment: Assignment, path: String) {
        let f = try fields(row, memberColumns)
        var neighbours: [ItemID] = []
        for text in f[10].split(separator: ",") {
            guard let id = ItemID(validating: text) else {
                throw DecodingError(description: "neighbour '\(text)' is not an item id")
            }
            neighbours.append(id)
        }
        guard let item = ItemID(validating: f[0]) else {
            throw DecodingError(description: "id '\(f[0])' is not an item id")
        }
        let assignment = Assignment(
            item: item, cluster: try required(f[2], "cluster"), probability: try value(f[3], "probability"),
            outlierScore: try value(f[4], "outlier_score"),
            map2: (try required(f[5], "x2"), try required(f[6], "y2")),
            map3: (try required(f[7], "x3"), try required(f[8], "y3"), try required(f[9], "z3")), neighbours: neighbours
        )
        return (assignment, f[1])
    }
}
