// A minimal test harness for ordo's C++ tests (no dependencies, runs where
// there is no Node, e.g. GPU runners). Each TEST_CASE is counted; the program
// prints "<suite>: N passed, N failed" and exits non-zero on any failure.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace ordo_test {

struct Case {
  const char* name;
  std::function<void()> body;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
struct Failure {
  std::string message;
};
struct Skip {
  std::string reason;
};
struct Registrar {
  Registrar(const char* name, std::function<void()> body) { cases().push_back({name, std::move(body)}); }
};

inline int run_all(const char* suite) {
  int passed = 0, failed = 0, skipped = 0;
  for (const Case& c : cases()) {
    try {
      c.body();
      ++passed;
    } catch (const Skip& s) {
      ++skipped;
      std::printf("SKIP %s: %s\n", c.name, s.reason.c_str());
    } catch (const Failure& f) {
      ++failed;
      std::printf("FAIL %s: %s\n", c.name, f.message.c_str());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL %s: unexpected exception: %s\n", c.name, e.what());
    }
  }
  std::printf("%s: %d passed, %d failed, %d skipped\n", suite, passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}

}  // namespace ordo_test

#define ORDO_CAT2(a, b) a##b
#define ORDO_CAT(a, b) ORDO_CAT2(a, b)
#define TEST_CASE(name)                                                                     \
  static void ORDO_CAT(test_fn_, __LINE__)();                                              \
  static ordo_test::Registrar ORDO_CAT(test_reg_, __LINE__)(name, ORDO_CAT(test_fn_, __LINE__)); \
  static void ORDO_CAT(test_fn_, __LINE__)()

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::ostringstream os_;                                                                \
      os_ << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed";                     \
      throw ordo_test::Failure{os_.str()};                                                   \
    }                                                                                        \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                \
  do {                                                                                       \
    double a_ = (a), b_ = (b);                                                               \
    if (!(std::fabs(a_ - b_) <= (tol))) {                                                    \
      std::ostringstream os_;                                                                \
      os_ << __FILE__ << ":" << __LINE__ << ": " #a " = " << a_ << " vs " #b " = " << b_;    \
      throw ordo_test::Failure{os_.str()};                                                   \
    }                                                                                        \
  } while (0)

// Runs stmt and checks that it throws ExType whose what() contains `needle`.
#define CHECK_THROWS(ExType, stmt, needle)                                                    \
  do {                                                                                       \
    bool thrown_ = false;                                                                    \
    try {                                                                                    \
      stmt;                                                                                  \
    } catch (const ExType& e_) {                                                             \
      thrown_ = true;                                                                        \
      if (std::string(e_.what()).find(needle) == std::string::npos) {                        \
        throw ordo_test::Failure{std::string(__FILE__) + ":" + std::to_string(__LINE__) +    \
                                 ": message '" + e_.what() + "' lacks '" + (needle) + "'"};  \
      }                                                                                      \
    }                                                                                        \
    if (!thrown_) {                                                                          \
      throw ordo_test::Failure{std::string(__FILE__) + ":" + std::to_string(__LINE__) +      \
                               ": expected " #ExType " from " #stmt};                        \
    }                                                                                        \
  } while (0)

#define SKIP(reason) throw ordo_test::Skip{reason}

#define TEST_MAIN(suite) \
  int main() { return ordo_test::run_all(suite); }
