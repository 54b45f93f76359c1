import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredStore

// Refits and their results: REFIT (answered when the run ends), RUNS, CLUSTERS, CLUSTER, MAP, RUN,
// RUN-CLUSTERS, RUN-MEMBERS.

extension CommandService {
    /// REFIT: starts a refit; with `wait`, `completion` hears the finished run (from the refit's
    /// thread), otherwise at once that it is queued.
    public func refit(wait: Bool, completion: @escaping @Sendable (Result<Response, ProtocolError>) -> Void) {
        guard let refits = live.withLock({ $0?.refits }) else {
            return completion(.failure(ProtocolError(.unavailable, "refits need the index, which is still loading")))
        }
        guard wait else {
            refits.request()
            return completion(
                .success(
                    Response(
                        columns: ["refit"], rows: [[refits.isRunning ? "queued behind the running refit" : "started"]]))
            )
        }
        refits.request { outcome in
            switch outcome {
            case .success(let report):
                completion(
                    .success(
                        Response(
                            columns: ["key", "value"],
                            rows: [
                                ["run", String(report.run)], ["items", String(report.items)],
                                ["clusters", String(report.clusters)],
                                ["noise_fraction", report.noiseFraction.fixed(4)],
                                ["silhouette", report.silhouette.map { $0.fixed(4) } ?? ""],
                                ["new_clusters", String(report.born)], ["vanished_clusters", String(report.vanished)],
                                ["seconds", String(report.seconds)],
                            ])))
            case .failure(let error):
                completion(.failure(ProtocolError(.unavailable, "the refit failed: \(error)")))
            }
        }
    }

    func requireRun(_ id: Int64) throws {
        guard try catalog.run(id) != nil else { throw ProtocolError(.notFound, "no run \(id); RUNS lists them") }
    }

    func currentRun() throws -> RefitRun {
        guard let run = try catalog.currentRun() else {
            throw ProtocolError(.unavailable, "no refit has finished yet; REFIT wait starts one")
        }
        return run
    }

    func runs(limit: Int) throws -> Response {
        Response(
            columns: [
                "run", "status", "current", "started", "finished", "algorithm", "items", "clusters", "noise_fraction",
                "silhouette", "error",
            ],
            rows: try catalog.runs(limit: limit).map { run in
                [
                    String(run.id), run.status, run.isCurrent ? "yes" : "no", String(run.startedAt),
                    run.finishedAt.map(String.init) ?? "", run.algorithm,
                    run.itemCount.map(String.init) ?? "", run.clusterCount.map(String.init) ?? "",
                    run.noiseFraction.map { $0.fixed(4) } ?? "",
                    run.silhouette.map { $0.fixed(4) } ?? "", run.error ?? "",
                ]
            })
    }

    func clusters() throws -> Response {
        let run = try currentRun()
        let ages = try catalog.clusterAges(run: run.id)
        let facts = try catalog.clusters(run: run.id)
        let paths = try catalog.paths(of: facts.compactMap(\.exemplar))
        return Response(
            columns: ["id", "name", "size", "exemplar", "silhouette", "age_runs"],
            rows: facts.map { c in
                [
                    String(c.cluster), c.name ?? c.label ?? "", String(c.size), c.exemplar.flatMap { paths[$0] } ?? "",
                    c.silhouette.map { $0.fixed(4) } ?? "",
                    String(ages[c.cluster] ?? 1),
                ]
            })
    }

    /// NAME-CLUSTER: a user's name for a stable cluster id, shown instead of the run's label from
    /// now on and in later runs while the id lives. Only an id of the current run can be named.
    func nameCluster(_ id: Int, _ name: ClusterName?) throws -> Response {
        let run = try currentRun()
        guard try catalog.nameCluster(id, name) else {
            throw ProtocolError(.notFound, "no cluster \(id) in run \(run.id); CLUSTERS lists them")
        }
        logger.info("cluster named", metadata: ["cluster": "\(id)", "name": "\(name?.text ?? "")"])
        let facts = try catalog.clusters(run: run.id).first { $0.cluster == id }
        return Response(
            columns: ["id", "name", "label"], rows: [[String(id), facts?.title ?? "", facts?.label ?? ""]])
    }

    /// A cluster's members, nearest its centre (on the 2-D map) first.
    func cluster(_ id: Int, limit: Int) throws -> Response {
        let run = try currentRun()
        let members = try catalog.assignments(run: run.id, cluster: id)
        guard !members.isEmpty else {
            throw ProtocolError(.notFound, "no cluster \(id) in run \(run.id); CLUSTERS lists them")
        }
        let cx = members.reduce(0) { $0 + $1.assignment.map2.0 } / Float(members.count)
        let cy = members.reduce(0) { $0 + $1.assignment.map2.1 } / Float(members.count)
        func distance(_ a: Assignment) -> Float {
            (a.map2.0 - cx) * (a.map2.0 - cx) + (a.map2.1 - cy) * (a.map2.1 - cy)
        }
        let ordered = members.sorted {
            (distance($0.assignment), $0.assignment.item) < (distance($1.assignment), $1.assignment.item)
        }.prefix(limit)
        return Response(
            columns: ["rank", "id", "path", "probability", "outlier_score"],
            rows: ordered.enumerated().map { rank, member in
                [
                    String(rank + 1), String(member.assignment.item.rawValue), member.path,
                    member.assignment.probability.map { $0.fixed(4) } ?? "",
                    member.assignment.outlierScore.map { $0.fixed(4) } ?? "",
                ]
            })
    }

    func map(dimensions: Int) throws -> Response {
        let run = try currentRun()
        let columns = dimensions == 3 ? ["id", "path", "x", "y", "z", "cluster"] : ["id", "path", "x", "y", "cluster"]
        return Response(
            columns: columns,
            rows: try catalog.assignments(run: run.id).map { a, path in
                let m = a
                let coordinates = dimensions == 3 ? [m.map3.0, m.map3.1, m.map3.2] : [m.map2.0, m.map2.1]
                return [String(m.item.rawValue), path] + coordinates.map { $0.fixed(5) } + [
                    String(m.cluster)
                ]
            })
    }

    func run(_ id: Int64?) throws -> Response {
        guard let run = try id.map({ try catalog.run($0) }) ?? catalog.currentRun() else {
            throw ProtocolError(
                .notFound,
                id.map { "no run \($0); RUNS lists them" } ?? "no refit has finished yet; REFIT wait starts one")
        }
        return Response(columns: RunRows.runColumns, rows: [RunRows.row(run)])
    }

    func runClusters(_ run: Int64) throws -> Response {
        try requireRun(run)
        return Response(columns: RunRows.clusterColumns, rows: try catalog.clusters(run: run).map(RunRows.row))
    }

    func runMembers(_ run: Int64, after: UInt64, limit: Int) throws -> Response {
        try requireRun(run)
        return Response(
            columns: RunRows.memberColumns,
            rows: try catalog.assignments(run: run, after: after, limit: limit).map(RunRows.row))
    }
}
