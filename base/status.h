// Status and Result<T>: errors as values.
//
// Every fallible call in base/, codec/ and fs/ returns a Status or a
// Result<T>. A Status carries a code, the errno that best describes it, and a
// message that names the path or object involved and the cause. The FUSE
// adapter is the one place that turns a Status into an errno reply.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ckptfs {

enum class Code {
  kOk = 0,
  kNotFound,
  kExists,
  kInvalidArgument,
  kCorruption,  // stored bytes fail a hash, checksum or framing check
  kIOError,     // the OS reported an error; errno() says which
  kNoSpace,
  kBusy,        // e.g. the store is locked by another process
  kNotSupported,
  kVersion,     // a format version newer than this build understands
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status OK() { return Status(); }

  static Status NotFound(std::string_view msg) { return {Code::kNotFound, ENOENT, msg}; }
  static Status Exists(std::string_view msg) { return {Code::kExists, EEXIST, msg}; }
  static Status InvalidArgument(std::string_view msg) {
    return {Code::kInvalidArgument, EINVAL, msg};
  }
  static Status Corruption(std::string_view msg) { return {Code::kCorruption, EIO, msg}; }
  static Status NoSpace(std::string_view msg) { return {Code::kNoSpace, ENOSPC, msg}; }
  static Status Busy(std::string_view msg) { return {Code::kBusy, EBUSY, msg}; }
  static Status NotSupported(std::string_view msg) { return {Code::kNotSupported, ENOTSUP, msg}; }
  static Status Version(std::string_view msg) { return {Code::kVersion, EPROTO, msg}; }
  // A POSIX error with its context, e.g. FromErrno("open packs/00000001.pack", errno).
  static Status FromErrno(std::string_view context, int err);
  // A status with an explicit errno (for semantics errors such as ENOTEMPTY).
  static Status Errno(int err, std::string_view msg);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int err() const { return err_; }  // 0 when ok
  const std::string& message() const { return msg_; }
  std::string ToString() const;

  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }

  // Returns a copy whose message is "prefix: message".
  Status WithContext(std::string_view prefix) const;

 private:
  Status(Code c, int err, std::string_view msg) : code_(c), err_(err), msg_(msg) {}
  Code code_ = Code::kOk;
  int err_ = 0;
  std::string msg_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: REQUIRES !status.ok()

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ckptfs

// Returns early from the enclosing function when a Status is not ok.
#define CKPTFS_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::ckptfs::Status _st = (expr);              \
    if (!_st.ok()) return _st;                  \
  } while (0)

#define CKPTFS_CONCAT_INNER(a, b) a##b
#define CKPTFS_CONCAT(a, b) CKPTFS_CONCAT_INNER(a, b)
// Declares `lhs` from a Result<T> expression, or returns its Status.
#define CKPTFS_ASSIGN_OR_RETURN(lhs, expr)                                  \
  auto CKPTFS_CONCAT(_res_, __LINE__) = (expr);                             \
  if (!CKPTFS_CONCAT(_res_, __LINE__).ok())                                 \
    return CKPTFS_CONCAT(_res_, __LINE__).status();                         \
  lhs = std::move(CKPTFS_CONCAT(_res_, __LINE__)).value()
