import ArgumentParser
import CodeRunnerClient
import Foundation

/// The file `--tests` names: a JSON array of cases, or an object that holds them with their
/// settings:
///
/// ```json
/// [{"name": "small", "stdin": "1 2\n", "expected_output": "3\n", "timeout": 0.5}, {"stdin": "5 5\n"}]
/// {"tests": [...], "compare": "tokens", "float_tolerance": 0.001, "stop_on_first_failure": true}
/// ```
///
/// Each case's keys are those of the request (`name`, `stdin`, `expected_output`, `timeout`),
/// all optional; `null` counts as absent. The file's shape, key names and value types are checked
/// here, so that a typo is a usage error naming the place (`tests[3].stdn`) rather than a case
/// that silently loses its field; ranges (names, timeouts, the number of cases) are the service's.
struct TestCasesFile {
    var cases: [TestCase]
    var compare: OutputComparison?
    var floatTolerance: Double?
    var stopOnFirstFailure: Bool?

    static let caseKeys = ["name", "stdin", "expected_output", "timeout"]
    static let settingKeys = ["tests", "compare", "float_tolerance", "stop_on_first_failure"]

    /// Reads and checks the file at `path`.
    static func load(path: String) throws -> TestCasesFile {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue,
            let data = FileManager.default.contents(atPath: path)
        else {
            throw ValidationError("Cannot read the test cases file '\(path)'.")
        }
        return try parse(data, path: path)
    }

    /// Checks the file's contents; `path` names it in error messages.
    static func parse(_ data: Data, path: String) throws -> TestCasesFile {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ValidationError("The test cases file '\(path)' is not valid JSON: \(reason(data, error))")
        }
        let problem = { (text: String) in ValidationError("The test cases file '\(path)': \(text)") }
        var file = TestCasesFile(cases: [])
        let list: [JSONValue]
        switch document {
        case .array(let items):
            list = items
        case .object(let fields):
            if let unknown = fields.keys.sorted().first(where: { !settingKeys.contains($0) }) {
                throw problem("unknown key \"\(unknown)\" (expected \(settingKeys.joined(separator: ", "))).")
            }
            guard case .array(let items) = fields["tests"] ?? .null else {
                throw problem("\"tests\" must be an array of test cases.")
            }
            list = items
            try readSettings(fields, into: &file, problem: problem)
        default:
            throw problem("expected an array of test cases, or an object with \"tests\".")
        }
        guard !list.isEmpty else { throw problem("there are no test cases.") }
        for (index, item) in list.enumerated() {
            file.cases.append(try testCase(item, at: "tests[\(index)]", problem: problem))
        }
        return file
    }

    /// The object form's `compare`, `float_tolerance` and `stop_on_first_failure`.
    private static func readSettings(_ fields: [String: JSONValue], into file: inout TestCasesFile, problem: (String) -> ValidationError) throws {
        switch fields["compare"] ?? .null {
        case .null: break
        case .string(let name):
            guard let mode = OutputComparison(rawValue: name) else {
                throw problem("\"compare\" must be one of \(JudgeOptions.modeNames), not \"\(name)\".")
            }
            file.compare = mode
        default: throw problem("\"compare\" must be one of \(JudgeOptions.modeNames).")
        }
        switch fields["float_tolerance"] ?? .null {
        case .null: break
        case .number(let tolerance): file.floatTolerance = tolerance
        default: throw problem("\"float_tolerance\" must be a number.")
        }
        if file.floatTolerance != nil, file.compare != .float {
            throw problem("\"float_tolerance\" applies only with \"compare\": \"float\".")
        }
        switch fields["stop_on_first_failure"] ?? .null {
        case .null: break
        case .bool(let stop): file.stopOnFirstFailure = stop
        default: throw problem("\"stop_on_first_failure\" must be true or false.")
        }
    }

    /// One case: an object with known keys only, each of the right type.
    private static func testCase(_ item: JSONValue, at place: String, problem: (String) -> ValidationError) throws -> TestCase {
        guard case .object(let fields) = item else { throw problem("\(place) must be an object.") }
        if let unknown = fields.keys.sorted().first(where: { !caseKeys.contains($0) }) {
            throw problem("\(place).\(unknown) is not a test case key (expected \(caseKeys.joined(separator: ", "))).")
        }
        func text(_ key: String) throws -> String? {
            switch fields[key] ?? .null {
            case .null: return nil
            case .string(let value): return value
            default: throw problem("\(place).\(key) must be a string.")
            }
        }
        var testCase = TestCase(name: try text("name"), stdin: try text("stdin"), expectedOutput: try text("expected_output"))
        switch fields["timeout"] ?? .null {
        case .null: break
        case .number(let seconds): testCase.timeout = seconds
        default: throw problem("\(place).timeout must be a number of seconds.")
        }
        return testCase
    }

    /// Where and why `data` is not JSON. JSONDecoder only says that it is not, so this asks
    /// JSONSerialization, which says where (`Unexpected end of file during JSON parse.`).
    private static func reason(_ data: Data, _ decodingError: any Error) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            if let message = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String { return message }
        }
        guard case DecodingError.dataCorrupted(let context) = decodingError else { return "\(decodingError)" }
        return context.debugDescription
    }
}
