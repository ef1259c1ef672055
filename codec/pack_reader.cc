#include "codec/pack_reader.h"

#include <string>

#include "base/crc32c.h"
#include "codec/pack_coding.h"

namespace ckptfs {
namespace {

Status CorruptAt(const std::string& path, uint64_t offset, const std::string& what) {
  return Status::Corruption("pack " + path + " offset " + std::to_string(offset) + ": " + what);
}

// Reads exactly out.size() bytes; *complete is false at a short read (EOF).
Status ReadFull(const RandomAccessFile& f, uint64_t offset, std::span<std::byte> out,
                bool* complete) {
  size_t got = 0;
  CKPTFS_RETURN_IF_ERROR(f.ReadAt(offset, out, &got));
  *complete = got == out.size();
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<PackReader>> PackReader::Open(Env* env, const std::string& path) {
  CKPTFS_ASSIGN_OR_RETURN(auto file, env->NewDirectRandomAccessFile(path));
  std::array<std::byte, pack::kPackHeaderSize> b;
  bool complete = false;
  CKPTFS_RETURN_IF_ERROR(ReadFull(*file, 0, b, &complete));
  pack::PackHeader h;
  if (!complete) return CorruptAt(path, 0, "file shorter than the pack header");
  if (!pack::DecodePackHeader(b, &h)) return CorruptAt(path, 0, "bad pack header magic or CRC");
  if (h.version > pack::kFormatVersion)
    return Status::Version("pack " + path + ": format version " + std::to_string(h.version) +
                           " is newer than this build (" + std::to_string(pack::kFormatVersion) +
                           ")");
  std::unique_ptr<PackReader> r(new PackReader(std::move(file)));
  r->pack_id_ = h.pack_id;
  return r;
}

Status PackReader::ReadPayload(const PackEntry& entry, std::vector<std::byte>* payload) const {
  AlignedBuffer scratch;
  CKPTFS_ASSIGN_OR_RETURN(ByteSpan body, ReadPayload(entry, &scratch));
  payload->assign(body.begin(), body.end());
  return Status::OK();
}

namespace {

bool LengthsValid(const PackEntry& e) {
  return e.stored_len <= pack::kMaxChunkSize && e.raw_len <= pack::kMaxChunkSize;
}

}  // namespace

Result<ByteSpan> PackReader::ReadPayload(const PackEntry& entry, AlignedBuffer* scratch,
                                         PayloadCheck check) const {
  auto r = ReadPayloads(std::span(&entry, 1), scratch, check);
  return std::move(r.front());
}

std::vector<Result<ByteSpan>> PackReader::ReadPayloads(std::span<const PackEntry> entries,
                                                       AlignedBuffer* scratch,
                                                       PayloadCheck check) const {
  const std::string& p = path();
  std::vector<Result<ByteSpan>> out;
  out.reserve(entries.size());
  auto fail_all = [&](const Status& st) {
    out.assign(entries.size(), Result<ByteSpan>(st));
    return out;
  };
  if (entries.empty()) return out;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!LengthsValid(entries[i]))
      return fail_all(CorruptAt(p, entries[i].offset, "index entry lengths exceed the chunk size limit"));
    if (i && entries[i].offset !=
                 entries[i - 1].offset + pack::kRecordHeaderSize + entries[i - 1].stored_len)
      return fail_all(Status::InvalidArgument("pack " + p + ": records to read are not adjacent"));
  }
  const uint64_t first = entries.front().offset;
  const uint64_t last_end =
      entries.back().offset + pack::kRecordHeaderSize + entries.back().stored_len;
  const uint64_t align = file_->alignment();
  const uint64_t start = first / align * align;
  const uint64_t end = (last_end + align - 1) / align * align;
  if (!scratch->Reserve(end - start)) return fail_all(Status::FromErrno("read " + p, ENOMEM));
  size_t got = 0;
  Status st = file_->ReadAt(start, std::span(scratch->data(), end - start), &got);
  if (!st.ok()) return fail_all(st);
  for (const PackEntry& e : entries) {
    const uint64_t skip = e.offset - start, len = pack::kRecordHeaderSize + e.stored_len;
    if (got < skip + len) {
      out.emplace_back(CorruptAt(p, e.offset, "record extends past the end of the pack"));
      continue;
    }
    out.push_back(CheckRecord(e, ByteSpan(scratch->data() + skip, len), check));
  }
  return out;
}

Result<ByteSpan> PackReader::CheckRecord(const PackEntry& entry, ByteSpan buf,
                                         PayloadCheck check) const {
  const std::string& p = path();
  pack::RecordHeader rec;
  switch (pack::DecodeRecordHeader(buf.first<pack::kRecordHeaderSize>(), &rec)) {
    case pack::RecordCheck::kOk: break;
    case pack::RecordCheck::kBadMagic: return CorruptAt(p, entry.offset, "bad record magic");
    case pack::RecordCheck::kBadCrc: return CorruptAt(p, entry.offset, "record header CRC mismatch");
    case pack::RecordCheck::kBadFields:
      return CorruptAt(p, entry.offset, "record header has an unknown codec or bad length");
  }
  if (rec.entry.id != entry.id)
    return CorruptAt(p, entry.offset,
                     "record holds chunk " + rec.entry.id.ToHex() + ", expected " + entry.id.ToHex());
  if (rec.entry.raw_len != entry.raw_len || rec.entry.stored_len != entry.stored_len ||
      rec.entry.codec != entry.codec)
    return CorruptAt(p, entry.offset, "record lengths or codec differ from the index");
  const auto body = buf.subspan(pack::kRecordHeaderSize);
  if (check == PayloadCheck::kCrc && crc32c::Value(body.data(), body.size()) != rec.payload_crc)
    return CorruptAt(p, entry.offset, "payload CRC32C mismatch");
  return body;
}

Result<std::vector<PackEntry>> PackReader::ReadFooter() const {
  const std::string& p = path();
  CKPTFS_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  if (size < pack::kPackHeaderSize + pack::kTrailerSize)
    return Status::NotFound("pack " + p + ": no footer (too short to be sealed)");
  const uint64_t trailer_at = size - pack::kTrailerSize;
  std::array<std::byte, pack::kTrailerSize> tb;
  bool complete = false;
  CKPTFS_RETURN_IF_ERROR(ReadFull(*file_, trailer_at, tb, &complete));
  pack::Trailer t;
  if (!complete || !pack::DecodeTrailer(tb, &t))
    return Status::NotFound("pack " + p + ": no footer (unsealed or torn)");

  // The magic is there, so the pack claims to be sealed: from here on any
  // inconsistency is damage, not an unfinished pack.
  const uint64_t index_len = uint64_t{t.entry_count} * pack::kIndexEntrySize;
  if (t.index_offset < pack::kPackHeaderSize || t.index_offset + index_len != trailer_at)
    return CorruptAt(p, trailer_at, "footer trailer disagrees with the file size");
  std::vector<std::byte> index(index_len);
  CKPTFS_RETURN_IF_ERROR(ReadFull(*file_, t.index_offset, index, &complete));
  if (!complete) return CorruptAt(p, t.index_offset, "footer index truncated");
  if (crc32c::Value(index.data(), index.size()) != t.index_crc)
    return CorruptAt(p, t.index_offset, "footer index CRC mismatch");

  std::vector<PackEntry> entries;
  entries.reserve(t.entry_count);
  uint64_t expected = pack::kPackHeaderSize;  // records are contiguous, in index order
  for (uint32_t i = 0; i < t.entry_count; ++i) {
    PackEntry e = pack::DecodeIndexEntry(&index[i * pack::kIndexEntrySize]);
    if (e.offset != expected || !pack::KnownCodec(static_cast<uint8_t>(e.codec)) ||
        e.stored_len > pack::kMaxChunkSize || e.raw_len > pack::kMaxChunkSize)
      return CorruptAt(p, t.index_offset + i * pack::kIndexEntrySize,
                       "footer index entry " + std::to_string(i) + " is inconsistent");
    expected = e.offset + pack::kRecordHeaderSize + e.stored_len;
    entries.push_back(e);
  }
  if (expected != t.index_offset)
    return CorruptAt(p, t.index_offset, "footer index does not cover the records exactly");
  return entries;
}

Result<std::vector<PackEntry>> PackReader::Scan(uint64_t* valid_end) const {
  CKPTFS_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  // A sealed pack's records end where its index starts. A damaged footer is
  // ignored here: the scan still recovers every record before it.
  uint64_t limit = size;
  if (auto footer = ReadFooter(); footer.ok()) {
    limit = footer->empty() ? pack::kPackHeaderSize
                            : footer->back().offset + pack::kRecordHeaderSize +
                                  footer->back().stored_len;
  }
  std::vector<PackEntry> entries;
  uint64_t off = pack::kPackHeaderSize;
  std::vector<std::byte> payload;
  while (off + pack::kRecordHeaderSize <= limit) {
    std::array<std::byte, pack::kRecordHeaderSize> hb;
    bool complete = false;
    CKPTFS_RETURN_IF_ERROR(ReadFull(*file_, off, hb, &complete));
    pack::RecordHeader rec;
    if (!complete || pack::DecodeRecordHeader(hb, &rec) != pack::RecordCheck::kOk) break;
    if (off + pack::kRecordHeaderSize + rec.entry.stored_len > limit) break;
    payload.resize(rec.entry.stored_len);
    CKPTFS_RETURN_IF_ERROR(ReadFull(*file_, off + pack::kRecordHeaderSize, payload, &complete));
    if (!complete || crc32c::Value(payload.data(), payload.size()) != rec.payload_crc) break;
    rec.entry.offset = off;
    entries.push_back(rec.entry);
    off += pack::kRecordHeaderSize + rec.entry.stored_len;
  }
  *valid_end = off;
  return entries;
}

}  // namespace ckptfs
