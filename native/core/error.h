// ordo/core/error.h — the error types every kernel family throws.
// The N-API layer turns them into JS errors (TypeError / RangeError / Error)
// carrying the same message, so a message must say what and where.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ordo {

// A caller passed something unusable: wrong shape, length, dtype, option value.
// Maps to a JS RangeError (or TypeError where the glue decides so).
class ArgumentError : public std::invalid_argument {
 public:
  explicit ArgumentError(const std::string& msg) : std::invalid_argument(msg) {}
};

// Malformed input data, located in a file (or a named in-memory buffer).
// line and column are 1-based; column counts bytes.
class ParseError : public std::runtime_error {
 public:
  ParseError(std::string file, uint64_t line, uint64_t column, std::string what_was_wrong)
      : std::runtime_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what_was_wrong),
        file_(std::move(file)), line_(line), column_(column), reason_(std::move(what_was_wrong)) {}
  const std::string& file() const { return file_; }
  uint64_t line() const { return line_; }
  uint64_t column() const { return column_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  uint64_t line_;
  uint64_t column_;
  std::string reason_;
};

// A file could not be opened or read (the OS said no).
class IoError : public std::runtime_error {
 public:
  explicit IoError(const std::string& msg) : std::runtime_error(msg) {}
};

// A backend was requested that cannot run here (e.g. ORDO_BACKEND=cuda, no GPU).
class BackendError : public std::runtime_error {
 public:
  explicit BackendError(const std::string& msg) : std::runtime_error(msg) {}
};

}  // namespace ordo
