import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// Every runtime image (`make images`) through the real sandbox: hello world, a second file,
/// stdin, metadata set then read back, a non-zero exit, a custom entrypoint, and the compiler's
/// message for a compile error (go, rust). All offline, with the default limits.
@Suite(.serialized, .needsDocker)
struct RuntimeIntegrationTests {
    struct Sample: Sendable, CustomTestStringConvertible {
        var runtime: String
        var hello: String
        /// Imports `greet` from the extra file and prints `hello, <runtime>`.
        var importer: String
        var helperFile: (name: String, content: String)
        /// Reads stdin, sets metadata `{"n": <length>}`, prints the metadata's `n` back, exits 4.
        var stdinAndMetadata: String
        var compileError: String?
        var testDescription: String { runtime }
    }

    static let samples: [Sample] = [
        Sample(
            runtime: "python",
            hello: "print('hello from python')",
            importer: "import greet\nprint(greet.hello('python'))",
            helperFile: ("greet.py", "def hello(n):\n    return 'hello, ' + n\n"),
            stdinAndMetadata:
                "import sys\nfrom sdk import set_metadata, get_metadata\nd = sys.stdin.read()\nset_metadata({'n': len(d)})\nprint(get_metadata()['n'])\nsys.exit(4)\n"
        ),
        Sample(
            runtime: "node",
            hello: "console.log('hello from node')",
            importer: "const g = require('./greet.js');\nconsole.log(g.hello('node'));",
            helperFile: ("greet.js", "module.exports = { hello: (n) => 'hello, ' + n };\n"),
            stdinAndMetadata:
                "const { setMetadata, getMetadata } = require('./sdk');\nconst d = require('fs').readFileSync(0, 'utf8');\nsetMetadata({ n: d.length });\nconsole.log(getMetadata().n);\nprocess.exit(4);\n"
        ),
        Sample(
            runtime: "bun",
            hello: "console.log('hello from bun')",
            importer: "import { hello } from './greet.ts';\nconsole.log(hello('bun'));",
            helperFile: ("greet.ts", "export function hello(n: string): string { return 'hello, ' + n; }\n"),
            stdinAndMetadata:
                "import { setMetadata, getMetadata } from './sdk';\nconst d = await Bun.stdin.text();\nsetMetadata({ n: d.length });\nconsole.log(getMetadata().n);\nprocess.exit(4);\n"
        ),
        Sample(
            runtime: "go",
            hello: "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello from go\")\n}\n",
            importer: "package main\n\nimport (\n\t\"fmt\"\n\t\"main/greet\"\n)\n\nfunc main() {\n\tfmt.Println(greet.Hello(\"go\"))\n}\n",
            helperFile: ("greet/greet.go", "package greet\n\nfunc Hello(n string) string { return \"hello, \" + n }\n"),
            stdinAndMetadata:
                "package main\n\nimport (\n\t\"fmt\"\n\t\"io\"\n\t\"os\"\n\t\"sdk\"\n)\n\nfunc main() {\n\td, _ := io.ReadAll(os.Stdin)\n\tsdk.SetMetadata(map[string]int{\"n\": len(d)})\n\tvar m map[string]int\n\tsdk.GetMetadata(&m)\n\tfmt.Println(m[\"n\"])\n\tos.Exit(4)\n}\n",
            compileError: "package main\n\nfunc main() {\n\tundefinedThing()\n}\n"
        ),
        Sample(
            runtime: "deno",
            hello: "const msg: string = 'hello from deno';\nconsole.log(msg);",
            importer: "import { hello } from './greet.ts';\nconsole.log(hello('deno'));",
            helperFile: ("greet.ts", "export function hello(n: string): string { return 'hello, ' + n; }\n"),
            stdinAndMetadata:
                "import { setMetadata, getMetadata } from './sdk.ts';\nconst d = await new Response(Deno.stdin.readable).text();\nsetMetadata({ n: d.length });\nconsole.log(getMetadata().n);\nDeno.exit(4);\n"
        ),
        Sample(
            runtime: "rust",
            hello: "fn main() {\n    println!(\"hello from rust\");\n}\n",
            importer: "mod greet;\n\nfn main() {\n    println!(\"{}\", greet::hello(\"rust\"));\n}\n",
            helperFile: ("src/greet.rs", "pub fn hello(n: &str) -> String {\n    format!(\"hello, {}\", n)\n}\n"),
            stdinAndMetadata:
                "use std::io::Read;\nuse sdk::{get_metadata, set_metadata};\n\nfn main() {\n    let mut d = String::new();\n    std::io::stdin().read_to_string(&mut d).unwrap();\n    set_metadata(&serde_json::json!({\"n\": d.len()})).unwrap();\n    let m: serde_json::Value = get_metadata().unwrap().unwrap();\n    println!(\"{}\", m[\"n\"]);\n    std::process::exit(4);\n}\n",
            compileError: "fn main() {\n    let x: i32 = \"not a number\";\n}\n"
        ),
    ]

    static let docker = SandboxIntegrationTests.sharedDocker
    let logger = Logger(label: "runtime-tests")

    func mainFile(of runtime: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: "runtimes/\(runtime)/runtime.json"))
        let entry = try JSONDecoder().decode([String: JSONValue].self, from: data)
        guard case .string(let file) = entry["main_file"] else { throw CancellationError() }
        return file
    }

    func run(_ sample: Sample, code: String, files: [WorkFile] = [], stdin: String = "", entrypoint: String? = nil) async throws -> RunResult {
        let payload = RunPayload(
            code: code,
            image: "code-runner-\(sample.runtime)",
            mainFile: try mainFile(of: sample.runtime),
            files: files,
            entrypoint: entrypoint,
            stdin: stdin,
            timeoutSeconds: 60,
            memoryBytes: 256 << 20,
            cpuShares: 512,
            nanoCPUs: 1_000_000_000,
            diskBytes: 512 << 20,
            pidsLimit: 256,
            maxOutputBytes: 1 << 20,
            maxMetadataBytes: 1 << 20
        )
        return try await Self.docker.runOnce(payload, worker: "runtime-tests", logger: logger)
    }

    @Test(arguments: samples)
    func helloWorld(_ sample: Sample) async throws {
        let result = try await run(sample, code: sample.hello)
        #expect(result.exitCode == 0, "\(result.stderr.suffix(1000))")
        #expect(result.stdout == "hello from \(sample.runtime)\n")
    }

    @Test(arguments: samples)
    func secondFileIsImported(_ sample: Sample) async throws {
        let result = try await run(sample, code: sample.importer, files: [WorkFile(name: sample.helperFile.name, content: sample.helperFile.content)])
        #expect(result.exitCode == 0, "\(result.stderr.suffix(1000))")
        #expect(result.stdout == "hello, \(sample.runtime)\n")
    }

    @Test(arguments: samples)
    func stdinMetadataAndExitCode(_ sample: Sample) async throws {
        let result = try await run(sample, code: sample.stdinAndMetadata, stdin: "hello")
        #expect(result.exitCode == 4, "\(result.stderr.suffix(1000))")
        #expect(result.stdout == "5\n")
        #expect(result.metadata == .object(["n": .integer(5)]))
    }

    @Test(arguments: samples)
    func customEntrypoint(_ sample: Sample) async throws {
        let result = try await run(sample, code: sample.hello, entrypoint: "echo custom; ls")
        #expect(result.exitCode == 0, "\(result.stderr.suffix(1000))")
        #expect(result.stdout.hasPrefix("custom\n"))
    }

    @Test(arguments: samples.filter { $0.compileError != nil })
    func compileErrorReachesStderr(_ sample: Sample) async throws {
        let result = try await run(sample, code: sample.compileError ?? "")
        #expect(result.exitCode != 0)
        let expected = sample.runtime == "go" ? "undefined: undefinedThing" : "mismatched types"
        #expect(result.stderr.contains(expected), "\(result.stderr.suffix(1000))")
    }
}
