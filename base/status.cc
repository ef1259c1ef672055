#include "base/status.h"

namespace ckptfs {

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  Code c = Code::kIOError;
  if (err == ENOENT) c = Code::kNotFound;
  else if (err == EEXIST) c = Code::kExists;
  else if (err == ENOSPC || err == EDQUOT) c = Code::kNoSpace;
  else if (err == EINVAL) c = Code::kInvalidArgument;
  else if (err == EWOULDBLOCK || err == EBUSY) c = Code::kBusy;
  return Status(c, err, msg);
}

Status Status::Errno(int err, std::string_view msg) {
  Status s = FromErrno("", err);
  s.msg_ = std::string(msg);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return msg_;
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  Status s = *this;
  s.msg_ = std::string(prefix) + ": " + msg_;
  return s;
}

}  // namespace ckptfs
