import Foundation
import Queue

/// Pydantic's "lax mode" coercions, which the seed's clients rely on: integers from numeric
/// strings, integral floats and booleans; booleans from `"yes"`/`"off"`/`1`…; strings only
/// from strings. Each failure is the issue pydantic would report, located at `loc`.
struct LaxValue {
    let value: JSONValue
    let loc: [LocationPart]

    func string() -> Result<String, ValidationIssue> {
        if case .string(let text) = value { return .success(text) }
        return .failure(issue("string_type", "Input should be a valid string"))
    }

    func integer() -> Result<Int, ValidationIssue> {
        switch value {
        case .integer(let number) where number >= Int64(Int.min) && number <= Int64(Int.max):
            return .success(Int(number))
        case .number(let number):
            guard number.rounded() == number, abs(number) < 9e15 else {
                return .failure(issue("int_from_float", "Input should be a valid integer, got a number with a fractional part"))
            }
            return .success(Int(number))
        case .bool(let flag):
            return .success(flag ? 1 : 0)
        case .string(let text):
            if let number = Int(text.trimmingCharacters(in: .whitespaces)) { return .success(number) }
            return .failure(issue("int_parsing", "Input should be a valid integer, unable to parse string as an integer"))
        default:
            return .failure(issue("int_type", "Input should be a valid integer"))
        }
    }

    func number() -> Result<Double, ValidationIssue> {
        switch value {
        case .integer(let number): return .success(Double(number))
        case .number(let number) where number.isFinite: return .success(number)
        case .bool(let flag): return .success(flag ? 1 : 0)
        case .string(let text):
            if let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite { return .success(number) }
            return .failure(issue("float_parsing", "Input should be a valid number, unable to parse string as a number"))
        default:
            return .failure(issue("float_type", "Input should be a valid number"))
        }
    }

    func boolean() -> Result<Bool, ValidationIssue> {
        switch value {
        case .bool(let flag): return .success(flag)
        case .integer(0): return .success(false)
        case .integer(1): return .success(true)
        case .string(let text):
            switch text.lowercased() {
            case "true", "t", "yes", "y", "on", "1": return .success(true)
            case "false", "f", "no", "n", "off", "0": return .success(false)
            default: return .failure(issue("bool_parsing", "Input should be a valid boolean, unable to interpret input"))
            }
        default:
            return .failure(issue("bool_type", "Input should be a valid boolean"))
        }
    }

    func object() -> Result<[String: JSONValue], ValidationIssue> {
        if case .object(let members) = value { return .success(members) }
        return .failure(issue("dict_type", "Input should be a valid dictionary"))
    }

    func array() -> Result<[JSONValue], ValidationIssue> {
        if case .array(let items) = value { return .success(items) }
        return .failure(issue("list_type", "Input should be a valid list"))
    }

    func issue(_ type: String, _ message: String, ctx: [String: JSONValue]? = nil) -> ValidationIssue {
        ValidationIssue(type: type, loc: loc, msg: message, input: value, ctx: ctx)
    }

    /// A `ValueError` raised by a validator: pydantic prefixes `Value error, `.
    func valueError(_ message: String) -> ValidationIssue {
        ValidationIssue(type: "value_error", loc: loc, msg: "Value error, \(message)", input: value, ctx: ["error": .object([:])])
    }
}

extension LaxValue {
    /// Checks `low ≤ number ≤ high` with pydantic's bound errors.
    static func bounded<T: Comparable & CustomStringConvertible>(
        _ number: T,
        _ low: T,
        _ high: T,
        at lax: LaxValue,
        asJSON: (T) -> JSONValue
    ) -> ValidationIssue? {
        if number < low {
            return lax.issue("greater_than_equal", "Input should be greater than or equal to \(low)", ctx: ["ge": asJSON(low)])
        }
        if number > high {
            return lax.issue("less_than_equal", "Input should be less than or equal to \(high)", ctx: ["le": asJSON(high)])
        }
        return nil
    }
}
