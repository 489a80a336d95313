import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// The libraries and tools the runtime images ship (issue 14): used as a program would use them,
/// offline, with the engine suites' limits, and with the versions `GET /images` lists
/// (`runtimes/<name>/runtime.json`, loaded as the API loads it).
@Suite(.serialized, .needsDocker)
struct BundledPackagesTests {
    static let docker = SandboxIntegrationTests.sharedDocker
    let logger = Logger(label: "bundled-packages-tests")

    func run(_ payload: RunPayload) async throws -> RunResult {
        try await Self.docker.runOnce(payload, worker: "bundled-packages-tests", logger: logger)
    }

    /// The versions the catalogue lists for `runtime`, by package name.
    func listedVersions(of runtime: String) throws -> [String: String] {
        let catalog = RuntimeCatalog.load(from: "runtimes", logger: logger)
        let packages = try #require(catalog.entry(for: runtime)?.packages)
        return Dictionary(packages.map { ($0.name, $0.version) }, uniquingKeysWith: { first, _ in first })
    }

    static let dataProgram = """
        import json, os, importlib.metadata as metadata
        seeded = os.path.exists(os.path.expanduser("~/.cache/matplotlib/fontlist-v390.json"))
        import numpy as np, pandas as pd, scipy.optimize, sympy, yaml, openpyxl, bs4, requests, httpx
        import matplotlib, matplotlib.pyplot as plt
        from PIL import Image
        frame = pd.DataFrame({"x": np.arange(5), "y": np.arange(5) ** 2})
        root = scipy.optimize.brentq(lambda v: v * v - 2, 0, 2)
        x = sympy.symbols("x")
        plt.plot(frame.x, frame.y)
        plt.savefig("plot.png")
        book = openpyxl.Workbook()
        book.active["A1"] = 42
        book.save("table.xlsx")
        names = ["numpy", "pandas", "scipy", "matplotlib", "pillow", "sympy", "requests", "httpx",
                 "beautifulsoup4", "openpyxl", "pyyaml", "pip"]
        print(json.dumps({
            "font_cache_seeded": seeded,
            "sum": int(frame.y.sum()),
            "root": round(root, 6),
            "derivative": str(sympy.diff(x ** 3, x)),
            "backend": matplotlib.get_backend().lower(),
            "png": list(Image.open("plot.png").size),
            "cell": openpyxl.load_workbook("table.xlsx").active["A1"].value,
            "soup": bs4.BeautifulSoup("<p>hi</p>", "html.parser").p.text,
            "yaml": yaml.safe_load("a: [1, 2]"),
            "versions": {name: metadata.version(name) for name in names},
        }))
        """

    @Test("python: numpy, pandas, scipy, sympy, matplotlib (Agg, figures saved), pillow, openpyxl, bs4, yaml work offline, at the listed versions")
    func pythonDataStack() async throws {
        let result = try await run(.testRun(Self.dataProgram, timeout: 60))
        #expect(result.exitCode == 0, "\(result.stderr.suffix(2000))")
        let output = try #require(JSONValue.parse(Data(result.stdout.utf8)), "\(result.stdout.prefix(500))")
        guard case .object(let fields) = output, case .object(let versions) = fields["versions"] else {
            Issue.record("unexpected output \(result.stdout.prefix(500))")
            return
        }
        #expect(fields["font_cache_seeded"] == .bool(true))
        #expect(fields["sum"] == .integer(30))
        #expect(fields["root"] == .number(1.414214))
        #expect(fields["derivative"] == .string("3*x**2"))
        #expect(fields["backend"] == .string("module://code_runner_mpl"))  // Agg, saving figures (runtimes/python/code_runner_mpl.py)
        #expect(fields["png"] == .array([.integer(640), .integer(480)]))
        #expect(fields["cell"] == .integer(42))
        #expect(fields["soup"] == .string("hi"))
        #expect(fields["yaml"] == .object(["a": .array([.integer(1), .integer(2)])]))
        let listed = try listedVersions(of: "python")
        for (name, version) in versions {
            #expect(.string(listed[name] ?? "not listed") == version, "\(name)")
        }
        #expect(result.stderr.isEmpty, "\(result.stderr.suffix(2000))")
    }

    @Test("python: uv and uvx at the listed version, and the interpreter's version")
    func pythonTools() async throws {
        var payload = RunPayload.testRun("")
        payload.entrypoint = "uv --version && uvx --version && python3 --version"
        let result = try await run(payload)
        #expect(result.exitCode == 0, "\(result.stderr.suffix(1000))")
        let listed = try listedVersions(of: "python")
        let uv = try #require(listed["uv"])
        let python = try #require(listed["python"])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stdout)")
        #expect(lines.first?.hasPrefix("uv \(uv)") == true, "\(result.stdout)")
        #expect(lines.dropFirst().first?.hasPrefix("uvx \(uv)") == true, "\(result.stdout)")
        #expect(lines.last == "Python \(python)")
    }

    static let typedProgram = """
        interface Point { x: number; y: number }
        const norm = (p: Point): number => Math.sqrt(p.x * p.x + p.y * p.y);
        console.log(`norm ${norm({ x: 3, y: 4 })}`);
        """

    func nodeRun(_ entrypoint: String, main: String = BundledPackagesTests.typedProgram) -> RunPayload {
        var payload = RunPayload.testRun("", image: "code-runner-node", timeout: 60)
        payload.mainFile = "main.js"
        payload.files = [WorkFile(name: "main.ts", content: main)]
        payload.entrypoint = entrypoint
        return payload
    }

    @Test(
        "node: ts-node, tsc and bun run TypeScript; a type error is a TS diagnostic",
        arguments: [
            "ts-node main.ts", "tsc --outDir out main.ts && node out/main.js", "bun main.ts",
        ]
    )
    func nodeTypeScript(_ entrypoint: String) async throws {
        let result = try await run(nodeRun(entrypoint))
        #expect(result.exitCode == 0, "\(result.stderr.suffix(1000))")
        #expect(result.stdout == "norm 5\n", "\(result.stderr.suffix(1000))")
    }

    @Test("node: a type error stops ts-node with TypeScript's diagnostic")
    func nodeTypeError() async throws {
        let result = try await run(nodeRun("ts-node main.ts", main: "const n: number = 'seven';\nconsole.log(n);\n"))
        #expect(result.exitCode != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("TS2322"), "\(result.stderr.suffix(1000))")
    }

    @Test("node: node, tsc, ts-node and bun at the listed versions")
    func nodeVersions() async throws {
        let result = try await run(nodeRun("node --version; tsc --version; ts-node --version; bun --version"))
        #expect(result.exitCode == 0, "\(result.stderr.suffix(1000))")
        let listed = try listedVersions(of: "node")
        let expected = [
            "v\(listed["node"] ?? "?")", "Version \(listed["typescript"] ?? "?")", "v\(listed["ts-node"] ?? "?")",
            listed["bun"] ?? "?",
        ]
        #expect(result.stdout.split(separator: "\n").map(String.init) == expected)
    }
}
