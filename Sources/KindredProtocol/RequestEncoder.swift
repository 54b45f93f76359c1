/// Writes a `Request` as the line `RequestParser` reads back to the same request: the protocol's
/// encoder beside its parser, as clients (the CLI, benchmarks, tests) use it. Every option is
/// written out, defaults included, so the line says exactly what was asked.
public enum RequestEncoder {
    public static func line(_ request: Request) -> String {
        ([request.verb.rawValue] + arguments(request)).joined(separator: " ")
    }

    private static func arguments(_ request: Request) -> [String] {
        switch request {
        case .ping, .help, .quit, .status, .clusters: []
        case .similar(let target, let query, let within):
            [word(target)] + options(query) + (within.map { ["within=" + word("prefix:" + $0)] } ?? [])
        case .similarImage(let count, let query): [String(count)] + options(query)
        case .info(let target): [word(target)]
        case .explain(let target, let items): [word(target), items.map { String($0.rawValue) }.joined(separator: ",")]
        case .duplicates(let tier, let maxDistance): ["tier=\(tier.rawValue)", "max_distance=\(maxDistance)"]
        case .errors(let limit): ["limit=\(limit)"]
        case .rescan(let directory): directory.map { [word($0)] } ?? []
        case .watch(let directory), .unwatch(let directory), .backup(let directory): [word(directory)]
        case .format(let format): [format.rawValue]
        case .refit(let wait): wait ? ["wait"] : []
        case .runs(let limit): ["limit=\(limit)"]
        case .cluster(let id, let limit): [String(id), "limit=\(limit)"]
        case .nameCluster(let id, let name): [String(id), word(name?.text ?? "")]
        case .map(let dimensions): ["dims=\(dimensions)"]
        case .run(let id): id.map { [String($0)] } ?? []
        case .runClusters(let run): [String(run)]
        case .runMembers(let run, let after, let limit): [String(run), "after=\(after)", "limit=\(limit)"]
        case .thumbs(let after, let limit): ["after=\(after)", "limit=\(limit)"]
        }
    }

    private static func options(_ query: SimilarQuery) -> [String] {
        ["k=\(query.k)", "space=\(query.ranking.rawValue)", "explain=\(query.explain ? 1 : 0)"]
    }

    private static func word(_ target: Target) -> String {
        switch target {
        case .id(let id): String(id.rawValue)
        case .path(let path): word(path)
        }
    }

    /// A word as the parser splits it: bare when it can be, else in double quotes with `\"`, `\\`,
    /// `\t`, `\n` and `\r` escaped. Quoting also keeps a word such as `a=b` from reading as an
    /// option. By Unicode scalars, as the parser reads: "\r\n" is one Character to Swift.
    public static func word(_ text: String) -> String {
        let bare =
            !text.isEmpty
            && !text.unicodeScalars.contains {
                $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "\\" || $0 == "\n" || $0 == "\r" || $0 == "\0"
                    || $0 == "="
            }
        return bare ? text : "\"" + Escapes.escape(text, quotes: true) + "\""
    }
}
