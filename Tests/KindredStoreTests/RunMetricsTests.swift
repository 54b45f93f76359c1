import KindredStore
import Testing

/// A run's metrics document: written and read through one `Codable` type.
@Suite struct RunMetricsTests {
    @Test func metricsSurviveTheirJSONAndOldRunsStillRead() throws {
        var metrics = RunMetrics()
        metrics.pcaComponents = 13
        metrics.pcaExplained = 0.9
        metrics.pcaScree = [0.2, 0.5, 0.9]
        metrics.varianceTarget = 0.9
        metrics.kCandidates = [RunMetrics.KCandidate(k: 2, silhouette: 0.4, inertia: 10)]
        metrics.daviesBouldin = 0.7
        metrics.silhouetteSample = 300
        metrics.silhouetteByCluster = ["3": 0.5]
        metrics.silhouetteKnife = ["3": RunMetrics.Knife(n: 2, values: [0.6, 0.4])]
        metrics.born = [3]
        metrics.vanished = [1]
        metrics.umapFitted = 200_000
        let json = try metrics.json()
        #expect(
            json.contains(#""silhouette_knife":{"3":{"n":2,"values":[0.6,0.4]}}"#) && json.contains(#""k_candidates""#)
                && json.contains(#""umap_fitted":200000"#))
        #expect(RunMetrics(json: json) == metrics)
        // A run stored before a field existed reads with that field's default.
        let old = RunMetrics(json: #"{"pca_scree":[0.2,0.9],"pca_components":2,"variance_target":0.9}"#)
        #expect(old?.pcaScree == [0.2, 0.9] && old?.pcaComponents == 2 && old?.born == [] && old?.kCandidates == nil)
        #expect(RunMetrics(json: "{}") == RunMetrics())
        #expect(RunMetrics(json: "not json") == nil)
    }
}
