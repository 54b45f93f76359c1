import KindredStore

extension Catalog {
    /// The finished run a map or report shows: `id`, or the current run.
    func finishedRun(_ id: Int64?) throws(VisualsError) -> RefitRun {
        let found: RefitRun?
        do throws(CatalogError) {
            if let id { found = try run(id) } else { found = try currentRun() }
        } catch { throw .catalog(error) }
        guard let run = found else { throw .noRun(requested: id) }
        guard run.status == "done" else { throw .runNotDone(id: run.id, status: run.status) }
        return run
    }
}
