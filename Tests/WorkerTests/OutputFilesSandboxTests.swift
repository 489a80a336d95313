import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// Output files against the real engine and the `code-runner-python` image: what the
/// supervisor's glob matching returns (`runtimes/common/outputs.c`), what it never returns
/// (symbolic links, hidden files for `*`, anything outside the work directory), the caps, and
/// matplotlib's figures saved without the program asking.
@Suite(.serialized, .needsDocker)
struct OutputFilesSandboxTests {
    let sandbox = SandboxIntegrationTests()

    func run(_ code: String, patterns: [String]?, maxFiles: Int = 20, maxBytes: Int = 1 << 20, timeout: Int = 20) async throws -> RunResult {
        var payload = sandbox.payload(code, timeout: timeout)
        payload.outputFiles = patterns.map { OutputFilesRequest(patterns: $0, maxFiles: maxFiles, maxBytes: maxBytes, reportsEmpty: true) }
        return try await sandbox.run(payload)
    }

    /// Makes a tree in the work dir: top-level csv and txt files, nested ones, a hidden file,
    /// a symlink to a file outside, a symlinked directory.
    static let tree = """
        import os
        os.makedirs('out/deep/er', exist_ok=True)
        os.makedirs('.hidden', exist_ok=True)
        for name, text in [('b.csv', 'b'), ('a.csv', 'a,1'), ('notes.txt', 'n'), ('out/x.txt', 'x'), ('out/deep/er/y.txt', 'y'),
                           ('.secret.csv', 's'), ('.hidden/z.txt', 'z'), ('out/deep/p.png', 'p')]:
            open(name, 'w').write(text)
        os.symlink('/etc/passwd', 'passwd.csv')
        os.symlink('/etc', 'out/etc')
        print('made')
        """

    @Test("globs: * stays in its directory and skips dot files; ** spans directories; symlinks are never followed; path order")
    func globs() async throws {
        let result = try await run(Self.tree, patterns: ["*.csv", "out/**/*.txt", "out/**"])
        #expect(result.stdout == "made\n", "\(result.stderr)")
        let paths = result.files?.map(\.path)
        #expect(paths == ["a.csv", "b.csv", "out/deep/er/y.txt", "out/deep/p.png", "out/x.txt"])
        #expect(result.files?.first?.content == Data("a,1".utf8))
        #expect(result.files?.first?.mediaType == "text/csv")
        #expect(result.files?.first(where: { $0.path == "out/deep/p.png" })?.mediaType == "image/png")
        #expect(!result.filesTruncated)
        #expect(result.stdout.contains("made") && !result.stdout.contains("@@code-runner"))
    }

    @Test("hidden files come back only when named; the work dir's own files (main.py) too when matched")
    func explicitNames() async throws {
        let result = try await run(Self.tree, patterns: [".secret.csv", ".hidden/*", "main.py"])
        #expect(result.files?.map(\.path) == [".hidden/z.txt", ".secret.csv", "main.py"])
        #expect(result.files?.last?.content == Data(Self.tree.utf8))
    }

    @Test("caps: count and total bytes; a file that does not fit is left out whole, smaller later ones still come")
    func caps() async throws {
        let code = """
            open('1.txt', 'w').write('a' * 10)
            open('2.txt', 'w').write('b' * 100)
            open('3.txt', 'w').write('c' * 10)
            open('4.txt', 'w').write('d' * 10)
            """
        let byCount = try await run(code, patterns: ["*.txt"], maxFiles: 2)
        #expect(byCount.files?.map(\.path) == ["1.txt", "2.txt"])
        #expect(byCount.filesTruncated)
        let byBytes = try await run(code, patterns: ["*.txt"], maxBytes: 35)
        #expect(byBytes.files?.map(\.path) == ["1.txt", "3.txt", "4.txt"])
        #expect(byBytes.files?.map(\.size) == [10, 10, 10])
        #expect(byBytes.filesTruncated)
    }

    @Test("nothing matched: files is [] when asked; a timed-out run has none (the supervisor was killed before collecting)")
    func emptyAndTimedOut() async throws {
        let none = try await run("print(1)", patterns: ["*.csv"])
        #expect(none.files == [])
        #expect(!none.filesTruncated)
        let timedOut = try await run("open('a.csv', 'w').write('1')\nimport time\ntime.sleep(30)", patterns: ["*.csv"], timeout: 1)
        #expect(timedOut.timedOut)
        #expect(timedOut.files == [])
        let plain = try await run("print(1)", patterns: nil)
        #expect(plain.files == nil)
    }

    @Test("matplotlib: plt.show() and figures left open are saved as PNGs and come back by the automatic pattern; a user's figure-1.png is kept")
    func figures() async throws {
        let code = """
            import matplotlib.pyplot as plt
            open('figure-1.png', 'wb').write(b'mine')
            plt.plot([1, 2, 3])
            plt.show()
            plt.figure()
            plt.bar(['a', 'b'], [3, 4])
            print(plt.get_backend())
            """
        var payload = sandbox.payload(code, timeout: 30)
        payload.memoryBytes = 512 << 20
        payload.outputFiles = OutputFilesRequest(patterns: ["figure-*.png"], maxFiles: 20, maxBytes: 8 << 20, reportsEmpty: false)
        let result = try await sandbox.run(payload)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout == "module://code_runner_mpl\n")
        let files = try #require(result.files)
        #expect(files.map(\.path) == ["figure-1.png", "figure-2.png", "figure-3.png"])
        #expect(files.first?.content == Data("mine".utf8))
        for file in files.dropFirst() {
            #expect(file.content.prefix(8) == Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
            #expect(file.mediaType == "image/png")
            #expect(file.size > 1000)
        }

        // no figure, automatic patterns only: no `files` at all
        var quiet = sandbox.payload("print(2)")
        quiet.outputFiles = payload.outputFiles
        #expect(try await sandbox.run(quiet).files == nil)
    }
}
