#include "codec/pack_writer.h"

#include <chrono>

#include "base/crc32c.h"
#include "codec/pack_coding.h"
#include "codec/pack_reader.h"

namespace ckptfs {

PackWriter::PackWriter(Env* env, std::string path, uint32_t pack_id,
                       std::unique_ptr<WritableFile> file)
    : env_(env), path_(std::move(path)), pack_id_(pack_id), file_(std::move(file)) {}

Result<std::unique_ptr<PackWriter>> PackWriter::Create(Env* env, const std::string& path,
                                                       uint32_t pack_id) {
  // Pack names are allocated by one owner (fs/chunk_store), so the check and
  // the create do not race in practice; the check catches id reuse bugs that
  // would otherwise append records to a sealed pack.
  if (env->FileExists(path)) return Status::Exists("create pack " + path + ": file exists");
  CKPTFS_ASSIGN_OR_RETURN(auto file, env->NewDirectWritableFile(path));
  pack::PackHeader h;
  h.pack_id = pack_id;
  h.created_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  const auto bytes = pack::EncodePackHeader(h);
  CKPTFS_RETURN_IF_ERROR(file->Append(bytes));
  return std::unique_ptr<PackWriter>(new PackWriter(env, path, pack_id, std::move(file)));
}

uint64_t PackWriter::size() const { return file_->Size(); }

Result<PackEntry> PackWriter::Add(const ChunkId& id, Codec codec, uint32_t raw_len,
                                  std::span<const std::byte> payload) {
  return Add(id, codec, raw_len, payload, crc32c::Value(payload.data(), payload.size()));
}

Result<PackEntry> PackWriter::Add(const ChunkId& id, Codec codec, uint32_t raw_len,
                                  std::span<const std::byte> payload, uint32_t payload_crc) {
  if (!error_.ok()) return error_;
  if (sealed_) return Status::InvalidArgument("pack " + path_ + ": add after seal");
  if (!pack::KnownCodec(static_cast<uint8_t>(codec)) || raw_len > pack::kMaxChunkSize ||
      payload.size() > pack::kMaxChunkSize)
    return Status::InvalidArgument("pack " + path_ + ": record for " + id.ToHex() +
                                   " has an unknown codec or is larger than 16 MiB");
  pack::RecordHeader rec;
  rec.entry.id = id;
  rec.entry.offset = file_->Size();
  rec.entry.raw_len = raw_len;
  rec.entry.stored_len = static_cast<uint32_t>(payload.size());
  rec.entry.codec = codec;
  rec.payload_crc = payload_crc;
  const auto header = pack::EncodeRecordHeader(rec);

  // Re-parse what was just built (restic's habit): an encoder bug must fail
  // here, not when the record is read back after the source data is gone.
  pack::RecordHeader check;
  if (pack::DecodeRecordHeader(header, &check) != pack::RecordCheck::kOk ||
      check.entry.id != id || check.entry.raw_len != raw_len ||
      check.entry.stored_len != rec.entry.stored_len || check.entry.codec != codec)
    return error_ = Status::Corruption("pack " + path_ + ": record header does not re-parse");

  // One gather write per record keeps a torn write to a single record.
  const ByteSpan parts[] = {ByteSpan(header.data(), header.size()), payload};
  if (Status s = file_->AppendV(parts); !s.ok()) return error_ = s;
  entries_.push_back(rec.entry);
  return rec.entry;
}

Status PackWriter::Flush() {
  if (!error_.ok()) return error_;
  if (sealed_) return Status::OK();
  if (Status s = file_->Flush(); !s.ok()) error_ = s;
  return error_;
}

Status PackWriter::Sync() {
  if (!error_.ok()) return error_;
  if (sealed_) return Status::OK();
  if (Status s = file_->Sync(); !s.ok()) error_ = s;
  return error_;
}

Status PackWriter::Seal() {
  if (!error_.ok()) return error_;
  if (sealed_) return Status::OK();
  pack::Trailer t;
  t.entry_count = static_cast<uint32_t>(entries_.size());
  t.index_offset = file_->Size();
  std::vector<std::byte> footer(entries_.size() * pack::kIndexEntrySize + pack::kTrailerSize);
  for (size_t i = 0; i < entries_.size(); ++i)
    pack::EncodeIndexEntry(entries_[i], &footer[i * pack::kIndexEntrySize]);
  t.index_crc = crc32c::Value(footer.data(), entries_.size() * pack::kIndexEntrySize);
  const auto trailer = pack::EncodeTrailer(t);
  std::copy(trailer.begin(), trailer.end(), footer.end() - pack::kTrailerSize);

  auto fail = [&](const Status& s) { return error_ = s.WithContext("seal pack " + path_); };
  if (Status s = file_->Append(footer); !s.ok()) return fail(s);
  if (Status s = file_->Sync(); !s.ok()) return fail(s);

  // Read the footer back through a fresh handle before reporting success: a
  // sealed pack is trusted by index rebuilds, so a bad one must not exist.
  auto reader = PackReader::Open(env_, path_);
  if (!reader.ok()) return fail(reader.status());
  auto index = (*reader)->ReadFooter();
  if (!index.ok()) return fail(index.status());
  bool same = index->size() == entries_.size();
  for (size_t i = 0; same && i < entries_.size(); ++i) {
    const PackEntry &a = (*index)[i], &b = entries_[i];
    same = a.id == b.id && a.offset == b.offset && a.raw_len == b.raw_len &&
           a.stored_len == b.stored_len && a.codec == b.codec;
  }
  if (!same) return fail(Status::Corruption("footer read back differs from what was written"));
  if (Status s = file_->Close(); !s.ok()) return fail(s);
  sealed_ = true;
  return Status::OK();
}

}  // namespace ckptfs
