#include "ckpt/torch_zip_reader.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "ckpt/posix_file.h"

namespace ckpt {

namespace {

// pread-based adapter so that I/O errors keep their errno.
class PosixReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit PosixReadAdapter(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CheckpointError(path, "cannot open checkpoint file", errno);
    fd_ = UniqueFd(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) throw CheckpointError(path, "cannot stat", errno);
    if (S_ISDIR(st.st_mode)) throw CheckpointError(path, "is a directory, expected a file", EISDIR);
    size_ = static_cast<size_t>(st.st_size);
  }
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_.get(), static_cast<char*>(buf) + done, n - done,
                          static_cast<off_t>(pos + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw CheckpointError(path_, std::string("read failed (") + what + ")", errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

 private:
  std::string path_;
  UniqueFd fd_;
  size_t size_ = 0;
};

// CRC-32 (zip polynomial), slice-by-8. libtorch builds miniz with
// MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS, so the reader verifies records
// against the central directory itself: a flipped bit in a tensor must not
// load silently.
class Crc32 {
 public:
  Crc32() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t_[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t_[s][i] = (t_[s - 1][i] >> 8) ^ t_[0][t_[s - 1][i] & 0xff];
  }
  uint32_t operator()(const void* data, size_t n) const {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + 4, 4);
      a ^= c;
      c = t_[7][a & 0xff] ^ t_[6][(a >> 8) & 0xff] ^ t_[5][(a >> 16) & 0xff] ^ t_[4][a >> 24] ^
          t_[3][b & 0xff] ^ t_[2][(b >> 8) & 0xff] ^ t_[1][(b >> 16) & 0xff] ^ t_[0][b >> 24];
      p += 8;
      n -= 8;
    }
    while (n--) c = t_[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
  }

 private:
  uint32_t t_[8][256];
};

uint32_t crc32(const void* data, size_t n) {
  static const Crc32 table;
  return table(data, n);
}

template <typename T>
T get_le(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

// Record name (without the archive prefix) -> CRC-32 from the central
// directory. PyTorchStreamReader has already validated the structure.
std::unordered_map<std::string, uint32_t> central_directory_crcs(const PosixReadAdapter& in,
                                                                 const std::string& path) {
  const size_t size = in.size();
  const size_t tail_len = std::min<size_t>(size, 65536 + 22);
  std::string tail(tail_len, '\0');
  in.read(size - tail_len, tail.data(), tail_len, "end of central directory");
  size_t eocd = std::string::npos;
  for (size_t i = tail_len - 22 + 1; i-- > 0;)
    if (get_le<uint32_t>(tail, i) == 0x06054b50u) { eocd = i; break; }
  if (eocd == std::string::npos) throw CheckpointError(path, "zip end of central directory not found");
  uint64_t cd_size = get_le<uint32_t>(tail, eocd + 12);
  uint64_t cd_offset = get_le<uint32_t>(tail, eocd + 16);
  if ((cd_offset == 0xFFFFFFFFu || cd_size == 0xFFFFFFFFu) && eocd >= 20 &&
      get_le<uint32_t>(tail, eocd - 20) == 0x07064b50u) {
    uint64_t z64 = get_le<uint64_t>(tail, eocd - 20 + 8);
    std::string rec(56, '\0');
    in.read(z64, rec.data(), rec.size(), "zip64 end of central directory");
    if (get_le<uint32_t>(rec, 0) != 0x06064b50u) throw CheckpointError(path, "bad zip64 directory");
    cd_size = get_le<uint64_t>(rec, 40);
    cd_offset = get_le<uint64_t>(rec, 48);
  }
  if (cd_offset + cd_size > size) throw CheckpointError(path, "zip central directory out of bounds");
  std::string cd(cd_size, '\0');
  in.read(cd_offset, cd.data(), cd_size, "central directory");
  std::unordered_map<std::string, uint32_t> out;
  for (size_t at = 0; at + 46 <= cd.size();) {
    if (get_le<uint32_t>(cd, at) != 0x02014b50u) throw CheckpointError(path, "bad zip central directory entry");
    uint32_t crc = get_le<uint32_t>(cd, at + 16);
    size_t name_len = get_le<uint16_t>(cd, at + 28);
    size_t extra_len = get_le<uint16_t>(cd, at + 30);
    size_t comment_len = get_le<uint16_t>(cd, at + 32);
    if (at + 46 + name_len > cd.size()) throw CheckpointError(path, "bad zip central directory entry");
    std::string name = cd.substr(at + 46, name_len);
    auto slash = name.find('/');
    out[slash == std::string::npos ? name : name.substr(slash + 1)] = crc;
    at += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

enum class Global {
  kNone,
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensor,
  kRebuildParameter,
  kRestoreTypeTag,
  kBuildList,
  kTorchSize,
  kStorageType,
};

struct Item {
  c10::IValue value;
  Global global = Global::kNone;
  at::ScalarType storage_dtype = at::kFloat;  // for kStorageType
};

bool storage_dtype_for(const std::string& name, at::ScalarType* out) {
  static const std::unordered_map<std::string, at::ScalarType> kTypes = {
      {"FloatStorage", at::kFloat},     {"DoubleStorage", at::kDouble},
      {"HalfStorage", at::kHalf},       {"BFloat16Storage", at::kBFloat16},
      {"LongStorage", at::kLong},       {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort},     {"CharStorage", at::kChar},
      {"ByteStorage", at::kByte},       {"BoolStorage", at::kBool},
      {"ComplexFloatStorage", at::kComplexFloat},
      {"ComplexDoubleStorage", at::kComplexDouble}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return false;
  *out = it->second;
  return true;
}

class Unpickler {
 public:
  Unpickler(const std::string& path, const char* data, size_t size,
            caffe2::serialize::PyTorchStreamReader& zip,
            const std::unordered_map<std::string, uint32_t>& crcs)
      : path_(path), p_(data), end_(data + size), zip_(zip), crcs_(crcs) {}

  c10::IValue parse() {
    for (;;) {
      uint8_t op = u8();
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1) fail("pickle ended with " + std::to_string(stack_.size()) + " values");
    return stack_.back().value;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw CheckpointError(path_, "malformed data.pkl: " + why);
  }

  const char* take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) fail("unexpected end of pickle (truncated?)");
    const char* at = p_;
    p_ += n;
    return at;
  }
  uint8_t u8() { return static_cast<uint8_t>(*take(1)); }
  template <typename T>
  T le() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;  // x86-64 / aarch64 are little-endian, like the format
  }
  std::string str(size_t n) {
    const char* s = take(n);
    return std::string(s, n);
  }
  std::string line() {
    const char* nl = static_cast<const char*>(std::memchr(p_, '\n', end_ - p_));
    if (nl == nullptr) fail("unterminated GLOBAL");
    std::string s(p_, nl);
    p_ = nl + 1;
    return s;
  }

  Item pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
    Item it = std::move(stack_.back());
    stack_.pop_back();
    return it;
  }
  Item& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Item> pop_to_mark() {
    if (marks_.empty()) fail("missing MARK");
    size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) fail("bad MARK");
    std::vector<Item> items(std::make_move_iterator(stack_.begin() + m),
                            std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  void push(c10::IValue v) { stack_.push_back(Item{std::move(v)}); }

  static c10::IValue tuple_of(std::vector<Item>& items) {
    std::vector<c10::IValue> v;
    for (auto& i : items) v.push_back(std::move(i.value));
    return c10::ivalue::Tuple::create(std::move(v));
  }

  c10::impl::GenericDict dict_of(Item& it) {
    if (!it.value.isGenericDict()) fail("SETITEM(S) on a non-dict");
    return it.value.toGenericDict();
  }
  c10::impl::GenericList list_of(Item& it) {
    if (!it.value.isList()) fail("APPEND(S) on a non-list");
    return it.value.toList();
  }

  void memo_put(uint32_t id) { memo_[id] = top(); }
  void memo_get(uint32_t id) {
    auto it = memo_.find(id);
    if (it == memo_.end()) fail("memo key " + std::to_string(id) + " not found");
    stack_.push_back(it->second);
  }

  void global(const std::string& module, const std::string& name) {
    Item it;
    if (module == "collections" && name == "OrderedDict") {
      it.global = Global::kOrderedDict;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      it.global = Global::kRebuildTensorV2;
    } else if (module == "torch._utils" && name == "_rebuild_tensor") {
      it.global = Global::kRebuildTensor;
    } else if (module == "torch._utils" &&
               (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state")) {
      it.global = Global::kRebuildParameter;
    } else if (module == "torch.jit._pickle" && name == "restore_type_tag") {
      it.global = Global::kRestoreTypeTag;
    } else if (module == "torch.jit._pickle" && name.rfind("build_", 0) == 0) {
      it.global = Global::kBuildList;
    } else if (module == "torch" && name == "Size") {
      it.global = Global::kTorchSize;
    } else if (module == "torch" && storage_dtype_for(name, &it.storage_dtype)) {
      it.global = Global::kStorageType;
    } else {
      fail("unsupported global " + module + "." + name);
    }
    stack_.push_back(std::move(it));
  }

  std::vector<int64_t> ints(const c10::IValue& v, const char* what) {
    if (!v.isTuple()) fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& e : v.toTupleRef().elements()) {
      if (!e.isInt()) fail(std::string(what) + " holds a non-integer");
      out.push_back(e.toInt());
    }
    return out;
  }

  at::Tensor rebuild_tensor(const std::vector<c10::IValue>& args) {
    if (args.size() < 4 || !args[0].isTensor() || !args[1].isInt())
      fail("bad arguments to _rebuild_tensor");
    at::Tensor storage_holder = args[0].toTensor();
    int64_t offset = args[1].toInt();
    auto sizes = ints(args[2], "tensor size");
    auto strides = ints(args[3], "tensor stride");
    if (sizes.size() != strides.size()) fail("size and stride ranks differ");
    const int64_t numel_storage = storage_holder.numel();
    int64_t last = offset;
    bool empty = false;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] < 0 || strides[i] < 0) fail("negative size or stride");
      if (sizes[i] == 0) empty = true;
      else last += (sizes[i] - 1) * strides[i];
    }
    if (offset < 0 || (!empty && last >= numel_storage))
      fail("tensor of shape " + c10::str(c10::IntArrayRef(sizes)) +
           " exceeds its storage of " + std::to_string(numel_storage) + " elements");
    return at::empty({0}, storage_holder.options())
        .set_(storage_holder.storage(), offset, sizes, strides);
  }

  void reduce() {
    Item args = pop();
    Item fn = pop();
    if (!args.value.isTuple()) fail("REDUCE arguments are not a tuple");
    auto elems = args.value.toTupleRef().elements().vec();
    switch (fn.global) {
      case Global::kOrderedDict:
        push(c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get()));
        return;
      case Global::kRebuildTensorV2:
      case Global::kRebuildTensor:
        push(rebuild_tensor(elems));
        return;
      case Global::kRebuildParameter:
      case Global::kRestoreTypeTag:
      case Global::kBuildList:
      case Global::kTorchSize:
        if (elems.empty()) fail("missing argument");
        push(elems[0]);
        return;
      default:
        fail("REDUCE of a value that is not a supported callable");
    }
  }

  // Persistent id ('storage', <StorageType>, key, location, numel): the
  // bytes live in record data/<key>. Storages are shared by key. A storage
  // is represented as a flat 1-D tensor over it.
  void persistent_load() {
    Item pid = pop();
    if (!pid.value.isTuple()) fail("persistent id is not a tuple");
    const auto& e = pid.value.toTupleRef().elements();
    if (e.size() < 5 || !e[0].isString() || e[0].toStringRef() != "storage" ||
        !e[2].isString() || !e[4].isInt())
      fail("unsupported persistent id");
    // e[1] was pushed by GLOBAL; its dtype is in the item we consumed via the
    // tuple, so recover it from the side table filled in TUPLE handling.
    auto dt = storage_types_.find(e[1].isString() ? e[1].toStringRef() : "");
    if (dt == storage_types_.end()) fail("persistent id without a storage type");
    const std::string key = e[2].toStringRef();
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      push(cached->second);
      return;
    }
    const at::ScalarType dtype = dt->second;
    const int64_t numel = e[4].toInt();
    const std::string record = "data/" + key;
    if (!zip_.hasRecord(record)) fail("record " + record + " is missing");
    auto [data, nbytes] = zip_.getRecord(record);
    auto crc = crcs_.find(record);
    if (crc == crcs_.end() || crc->second != crc32(data.get(), nbytes))
      throw CheckpointError(path_, "record " + record + " is corrupt (CRC-32 mismatch)");
    const size_t expect = static_cast<size_t>(numel) * c10::elementSize(dtype);
    if (numel < 0 || nbytes != expect)
      fail("record " + record + " holds " + std::to_string(nbytes) + " bytes, expected " +
           std::to_string(expect));
    c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(data), nullptr, false);
    at::Tensor flat =
        at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, 0, {numel}, {1});
    storages_.emplace(key, flat);
    push(flat);
  }

  // Storage-type globals only ever appear inside persistent ids; they are
  // replaced by a string token so the id tuple can be an ordinary IValue.
  c10::IValue as_value(Item& it) {
    if (it.global == Global::kStorageType) {
      std::string token = "\x01storage:" + std::string(c10::toString(it.storage_dtype));
      storage_types_[token] = it.storage_dtype;
      return token;
    }
    if (it.global != Global::kNone) fail("a callable used as a value");
    return it.value;
  }
  c10::IValue tuple_from(std::vector<Item>& items) {
    std::vector<c10::IValue> v;
    for (auto& i : items) v.push_back(as_value(i));
    return c10::ivalue::Tuple::create(std::move(v));
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80: u8(); return;             // PROTO
      case 0x95: take(8); return;          // FRAME
      case '(': marks_.push_back(stack_.size()); return;
      case ')': push(c10::ivalue::Tuple::create({})); return;
      case ']': push(c10::impl::GenericList(c10::AnyType::get())); return;
      case '}': push(c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get())); return;
      case 't': { auto items = pop_to_mark(); push(tuple_from(items)); return; }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        std::vector<Item> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(tuple_from(items));
        return;
      }
      case 'l': {
        auto items = pop_to_mark();
        c10::impl::GenericList l(c10::AnyType::get());
        for (auto& i : items) l.push_back(as_value(i));
        push(l);
        return;
      }
      case 'd': {
        auto items = pop_to_mark();
        if (items.size() % 2) fail("DICT with odd item count");
        c10::impl::GenericDict d(c10::AnyType::get(), c10::AnyType::get());
        for (size_t i = 0; i < items.size(); i += 2)
          d.insert_or_assign(as_value(items[i]), as_value(items[i + 1]));
        push(d);
        return;
      }
      case 'a': { Item v = pop(); list_of(top()).push_back(as_value(v)); return; }
      case 'e': {
        auto items = pop_to_mark();
        auto l = list_of(top());
        for (auto& i : items) l.push_back(as_value(i));
        return;
      }
      case 's': {
        Item v = pop();
        Item k = pop();
        dict_of(top()).insert_or_assign(as_value(k), as_value(v));
        return;
      }
      case 'u': {
        auto items = pop_to_mark();
        if (items.size() % 2) fail("SETITEMS with odd item count");
        auto d = dict_of(top());
        for (size_t i = 0; i < items.size(); i += 2)
          d.insert_or_assign(as_value(items[i]), as_value(items[i + 1]));
        return;
      }
      case 'N': push(c10::IValue()); return;
      case 0x88: push(true); return;
      case 0x89: push(false); return;
      case 'J': push(static_cast<int64_t>(le<int32_t>())); return;
      case 'K': push(static_cast<int64_t>(u8())); return;
      case 'M': push(static_cast<int64_t>(le<uint16_t>())); return;
      case 0x8a: case 0x8b: {  // LONG1 / LONG4: little-endian two's complement
        size_t n = op == 0x8a ? u8() : le<uint32_t>();
        if (n > 8) fail("integer wider than 64 bits");
        const char* b = take(n);
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) v |= uint64_t(uint8_t(b[i])) << (8 * i);
        if (n > 0 && n < 8 && (uint8_t(b[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);
        push(static_cast<int64_t>(v));
        return;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const char* b = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | uint8_t(b[i]);
        double d;
        std::memcpy(&d, &bits, 8);
        push(d);
        return;
      }
      case 'X': push(str(le<uint32_t>())); return;
      case 0x8c: push(str(u8())); return;
      case 0x8d: push(str(le<uint64_t>())); return;
      case 'T': push(str(le<uint32_t>())); return;
      case 'U': push(str(u8())); return;
      case 'B': push(str(le<uint32_t>())); return;
      case 'C': push(str(u8())); return;
      case 'q': memo_put(u8()); return;
      case 'r': memo_put(le<uint32_t>()); return;
      case 0x94: memo_put(static_cast<uint32_t>(memo_.size())); return;
      case 'h': memo_get(u8()); return;
      case 'j': memo_get(le<uint32_t>()); return;
      case 'c': { std::string m = line(); std::string n = line(); global(m, n); return; }
      case 0x93: {  // STACK_GLOBAL
        Item n = pop();
        Item m = pop();
        if (!n.value.isString() || !m.value.isString()) fail("STACK_GLOBAL needs strings");
        global(m.value.toStringRef(), n.value.toStringRef());
        return;
      }
      case 'R': case 0x81: reduce(); return;
      case 'b': {  // BUILD: only OrderedDict state (e.g. _metadata) is expected
        Item state = pop();
        if (!top().value.isGenericDict()) fail("BUILD on an unsupported object");
        return;
      }
      case 'Q': persistent_load(); return;
      case '0': pop(); return;
      case '1': pop_to_mark(); return;
      case '2': { Item copy = top(); stack_.push_back(std::move(copy)); return; }
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", op);
        fail(std::string("unsupported opcode ") + buf);
      }
    }
  }

  std::string path_;
  const char* p_;
  const char* end_;
  caffe2::serialize::PyTorchStreamReader& zip_;
  const std::unordered_map<std::string, uint32_t>& crcs_;
  std::vector<Item> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Item> memo_;
  std::unordered_map<std::string, at::Tensor> storages_;
  std::unordered_map<std::string, at::ScalarType> storage_types_;
};

}  // namespace

c10::IValue load_torch_zip(const std::string& path) {
  auto adapter = std::make_shared<PosixReadAdapter>(path);
  if (adapter->size() >= 2) {
    unsigned char magic[2];
    adapter->read(0, magic, 2, "magic");
    if (magic[0] == 0x80)
      throw CheckpointError(path, "legacy (non-zip) torch.save format is not supported");
  }
  try {
    caffe2::serialize::PyTorchStreamReader zip(adapter);
    if (!zip.hasRecord("data.pkl")) throw CheckpointError(path, "archive has no data.pkl");
    auto crcs = central_directory_crcs(*adapter, path);
    auto [data, size] = zip.getRecord("data.pkl");
    auto crc = crcs.find("data.pkl");
    if (crc == crcs.end() || crc->second != crc32(data.get(), size))
      throw CheckpointError(path, "record data.pkl is corrupt (CRC-32 mismatch)");
    Unpickler u(path, static_cast<const char*>(data.get()), size, zip, crcs);
    return u.parse();
  } catch (const c10::Error& e) {
    throw CheckpointError(path, std::string("not a readable PyTorch zip archive: ") +
                                    e.what_without_backtrace());
  }
}

}  // namespace ckpt
