#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/fault_env.h"
#include "codec/pack_format.h"
#include "codec/pack_reader.h"
#include "codec/pack_writer.h"
#include "codec/test_util.h"

namespace ckptfs {
namespace {

namespace fs = std::filesystem;
using testing::RandomBytes;

class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ckptfs_pack_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "00000007.pack").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static ChunkId IdOf(int i) {
    ChunkId id;
    for (size_t k = 0; k < id.bytes.size(); ++k) id.bytes[k] = static_cast<uint8_t>(i * 31 + k);
    return id;
  }

  // Writes `n` records with varied payloads; returns the entries and payloads.
  std::vector<std::vector<std::byte>> WritePack(Env* env, int n, bool seal,
                                                std::vector<PackEntry>* entries) {
    auto w = PackWriter::Create(env, path_, 7);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    std::vector<std::vector<std::byte>> payloads;
    for (int i = 0; i < n; ++i) {
      payloads.push_back(RandomBytes(1 + i * 37 % 3000, i));
      auto e = (*w)->Add(IdOf(i), static_cast<Codec>(i % 4), 5000 + i, payloads.back());
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      entries->push_back(*e);
    }
    EXPECT_TRUE((*w)->Sync().ok());
    if (seal) {
      EXPECT_TRUE((*w)->Seal().ok());
    }
    return payloads;
  }

  std::vector<std::byte> ReadAll() {
    std::ifstream f(path_, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::byte> b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
  }
  void WriteAll(std::span<const std::byte> b) {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), b.size());
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(PackTest, WriteSealReadBack) {
  std::vector<PackEntry> entries;
  auto payloads = WritePack(Env::Default(), 50, true, &entries);
  auto r = PackReader::Open(Env::Default(), path_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->pack_id(), 7u);
  auto footer = (*r)->ReadFooter();
  ASSERT_TRUE(footer.ok()) << footer.status().ToString();
  ASSERT_EQ(footer->size(), entries.size());
  uint64_t end = 0;
  auto scanned = (*r)->Scan(&end);
  ASSERT_TRUE(scanned.ok());
  ASSERT_EQ(scanned->size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    for (const auto* e : {&(*footer)[i], &(*scanned)[i]}) {
      EXPECT_EQ(e->id, entries[i].id);
      EXPECT_EQ(e->offset, entries[i].offset);
      EXPECT_EQ(e->raw_len, entries[i].raw_len);
      EXPECT_EQ(e->stored_len, entries[i].stored_len);
      EXPECT_EQ(e->codec, entries[i].codec);
    }
    std::vector<std::byte> payload;
    ASSERT_TRUE((*r)->ReadPayload(entries[i], &payload).ok());
    EXPECT_EQ(payload, payloads[i]);
  }
  EXPECT_EQ(end, entries.back().offset + pack::kRecordHeaderSize + entries.back().stored_len);
}

TEST_F(PackTest, CreateRefusesExistingAndAddAfterSeal) {
  std::vector<PackEntry> entries;
  WritePack(Env::Default(), 1, false, &entries);
  EXPECT_EQ(PackWriter::Create(Env::Default(), path_, 8).status().code(), Code::kExists);
  fs::remove(path_);
  auto w = PackWriter::Create(Env::Default(), path_, 8).value();
  ASSERT_TRUE(w->Seal().ok());  // an empty pack can be sealed
  EXPECT_FALSE(w->Add(IdOf(1), Codec::kRaw, 1, RandomBytes(1, 1)).ok());
  auto footer = PackReader::Open(Env::Default(), path_).value()->ReadFooter();
  ASSERT_TRUE(footer.ok());
  EXPECT_TRUE(footer->empty());
}

TEST_F(PackTest, EveryFlippedRecordByteIsDetected) {
  std::vector<PackEntry> entries;
  WritePack(Env::Default(), 3, true, &entries);
  const auto good = ReadAll();
  const PackEntry& e = entries[1];
  const size_t record_len = pack::kRecordHeaderSize + e.stored_len;
  // Every header byte, and payload bytes at a stride (the CRC is linear, so
  // a stride covers it as well as every byte would, in less time).
  for (size_t i = 0; i < record_len; i += (i < pack::kRecordHeaderSize ? 1 : 7)) {
    for (uint8_t mask : {0x01, 0x80}) {
      auto bad = good;
      bad[e.offset + i] ^= std::byte{mask};
      WriteAll(bad);
      auto r = PackReader::Open(Env::Default(), path_).value();
      std::vector<std::byte> payload;
      Status s = r->ReadPayload(e, &payload);
      ASSERT_TRUE(s.IsCorruption()) << "flip at record byte " << i << ": " << s.ToString();
      EXPECT_NE(s.message().find("offset " + std::to_string(e.offset)), std::string::npos)
          << s.message();
      // Neighbours are untouched and still readable.
      EXPECT_TRUE(r->ReadPayload(entries[0], &payload).ok());
      EXPECT_TRUE(r->ReadPayload(entries[2], &payload).ok());
    }
  }
}

// Readahead reads adjacent records with one read; each record is still
// checked on its own, so damage to one fails that one only.
TEST_F(PackTest, AdjacentRecordsAreReadTogetherAndCheckedEach) {
  std::vector<PackEntry> entries;
  const auto payloads = WritePack(Env::Default(), 6, true, &entries);
  FaultInjectionEnv env(Env::Default());
  {
    auto r = PackReader::Open(&env, path_).value();
    const uint64_t before = env.reads();
    AlignedBuffer scratch;
    auto got = r->ReadPayloads(entries, &scratch);
    EXPECT_EQ(env.reads() - before, 1u);
    ASSERT_EQ(got.size(), entries.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status().ToString();
      EXPECT_TRUE(std::equal(got[i]->begin(), got[i]->end(), payloads[i].begin(),
                             payloads[i].end()))
          << i;
    }
    // Records that are not adjacent are refused, not read as if they were.
    std::vector<PackEntry> gap = {entries[0], entries[2]};
    for (const auto& g : r->ReadPayloads(gap, &scratch))
      EXPECT_EQ(g.status().code(), Code::kInvalidArgument) << g.status().ToString();
  }
  auto bad = ReadAll();
  bad[entries[3].offset + pack::kRecordHeaderSize + 1] ^= std::byte{0x10};
  WriteAll(bad);
  auto r = PackReader::Open(&env, path_).value();
  AlignedBuffer scratch;
  auto got = r->ReadPayloads(entries, &scratch);
  ASSERT_EQ(got.size(), entries.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (i == 3) {
      ASSERT_TRUE(got[i].status().IsCorruption()) << got[i].status().ToString();
      EXPECT_NE(got[i].status().message().find("offset " + std::to_string(entries[3].offset)),
                std::string::npos);
    } else {
      EXPECT_TRUE(got[i].ok()) << i << ": " << got[i].status().ToString();
    }
  }
}

TEST_F(PackTest, WrongEntryIsDetected) {
  std::vector<PackEntry> entries;
  WritePack(Env::Default(), 3, true, &entries);
  auto r = PackReader::Open(Env::Default(), path_).value();
  std::vector<std::byte> payload;
  PackEntry e = entries[1];
  e.id = IdOf(99);
  EXPECT_TRUE(r->ReadPayload(e, &payload).IsCorruption());
  e = entries[1];
  e.offset += 1;
  EXPECT_TRUE(r->ReadPayload(e, &payload).IsCorruption());
  e = entries[2];
  e.stored_len += 1000000;  // past the end of the pack
  EXPECT_TRUE(r->ReadPayload(e, &payload).IsCorruption());
  e = entries[2];
  e.stored_len = 0xffffffff;  // absurd: rejected before allocating
  EXPECT_TRUE(r->ReadPayload(e, &payload).IsCorruption());
}

TEST_F(PackTest, ScanStopsAtTornTail) {
  std::vector<PackEntry> entries;
  WritePack(Env::Default(), 10, false, &entries);
  const auto full = ReadAll();
  {
    auto r = PackReader::Open(Env::Default(), path_).value();
    EXPECT_TRUE(r->ReadFooter().status().IsNotFound());  // unsealed
    uint64_t end = 0;
    auto all = r->Scan(&end).value();
    EXPECT_EQ(all.size(), 10u);
    EXPECT_EQ(end, full.size());
  }
  // Cut inside every part of the last records: header, payload.
  for (int k : {9, 8, 5}) {
    for (size_t cut_in : {size_t{1}, size_t{20}, size_t{pack::kRecordHeaderSize},
                          size_t{pack::kRecordHeaderSize + 1}}) {
      if (cut_in >= pack::kRecordHeaderSize + entries[k].stored_len) continue;
      WriteAll(std::span(full).first(entries[k].offset + cut_in));
      auto r = PackReader::Open(Env::Default(), path_).value();
      uint64_t end = 0;
      auto got = r->Scan(&end).value();
      EXPECT_EQ(got.size(), static_cast<size_t>(k)) << "cut in record " << k << " at " << cut_in;
      EXPECT_EQ(end, entries[k].offset);
    }
  }
  // Garbage appended after good records (a torn write of random content).
  auto with_garbage = full;
  auto junk = RandomBytes(5000, 42);
  with_garbage.insert(with_garbage.end(), junk.begin(), junk.end());
  WriteAll(with_garbage);
  uint64_t end = 0;
  EXPECT_EQ(PackReader::Open(Env::Default(), path_).value()->Scan(&end)->size(), 10u);
  EXPECT_EQ(end, full.size());
  // A damaged middle record ends the scan there.
  auto damaged = full;
  damaged[entries[4].offset + pack::kRecordHeaderSize] ^= std::byte{1};
  WriteAll(damaged);
  EXPECT_EQ(PackReader::Open(Env::Default(), path_).value()->Scan(&end)->size(), 4u);
  EXPECT_EQ(end, entries[4].offset);
}

TEST_F(PackTest, FooterDamageIsDetected) {
  std::vector<PackEntry> entries;
  WritePack(Env::Default(), 20, true, &entries);
  const auto good = ReadAll();
  const size_t index_at =
      entries.back().offset + pack::kRecordHeaderSize + entries.back().stored_len;
  const size_t magic_at = good.size() - 8;
  for (size_t i = index_at; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= std::byte{0x10};
    WriteAll(bad);
    auto r = PackReader::Open(Env::Default(), path_).value();
    auto footer = r->ReadFooter();
    ASSERT_FALSE(footer.ok()) << "flip at " << i;
    if (i >= magic_at) {
      EXPECT_TRUE(footer.status().IsNotFound()) << i;  // no magic: looks unsealed
    } else {
      EXPECT_TRUE(footer.status().IsCorruption()) << i << ": " << footer.status().ToString();
    }
    // Records stay recoverable by scanning.
    uint64_t end = 0;
    EXPECT_EQ(r->Scan(&end)->size(), entries.size()) << i;
  }
  // Truncated sealed pack: the footer is gone, the records remain.
  WriteAll(std::span(good).first(good.size() - 5));
  auto r = PackReader::Open(Env::Default(), path_).value();
  EXPECT_TRUE(r->ReadFooter().status().IsNotFound());
  uint64_t end = 0;
  EXPECT_EQ(r->Scan(&end)->size(), entries.size());
}

TEST_F(PackTest, BadPackHeaderIsCorruption) {
  std::vector<PackEntry> entries;
  WritePack(Env::Default(), 1, true, &entries);
  auto good = ReadAll();
  for (size_t i = 0; i < pack::kPackHeaderSize; ++i) {
    auto bad = good;
    bad[i] ^= std::byte{4};
    WriteAll(bad);
    EXPECT_TRUE(PackReader::Open(Env::Default(), path_).status().IsCorruption()) << i;
  }
  WriteAll(std::span(good).first(10));
  EXPECT_TRUE(PackReader::Open(Env::Default(), path_).status().IsCorruption());
}

TEST_F(PackTest, WriterStaysBrokenAfterNoSpace) {
  FaultInjectionEnv env(Env::Default());
  auto w = PackWriter::Create(&env, path_, 7).value();
  auto payload = RandomBytes(10000, 1);
  ASSERT_TRUE(w->Add(IdOf(0), Codec::kRaw, 10000, payload).ok());
  env.SetSpaceLimit(env.bytes_written() + 15000);
  ASSERT_TRUE(w->Add(IdOf(1), Codec::kRaw, 10000, payload).ok());
  auto failed = w->Add(IdOf(2), Codec::kRaw, 10000, payload);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failed.status().IsNoSpace()) << failed.status().ToString();
  // Space comes back; the writer must not resume after a failed record.
  env.ClearSpaceLimit();
  EXPECT_TRUE(w->Add(IdOf(3), Codec::kRaw, 1, RandomBytes(1, 3)).status().IsNoSpace());
  EXPECT_TRUE(w->Sync().IsNoSpace());
  EXPECT_TRUE(w->Seal().IsNoSpace());
  EXPECT_EQ(w->entries().size(), 2u);
  // The injected failure broke only the wrapper: closing the file writes out
  // what the buffering file below still holds, and no record after it.
  w.reset();
  uint64_t end = 0;
  auto r = PackReader::Open(Env::Default(), path_).value();
  EXPECT_TRUE(r->ReadFooter().status().IsNotFound());
  auto scanned = r->Scan(&end);
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  EXPECT_EQ(scanned->size(), 2u);
}

TEST_F(PackTest, SealFailsWhenSyncFails) {
  FaultInjectionEnv env(Env::Default());
  auto w = PackWriter::Create(&env, path_, 7).value();
  ASSERT_TRUE(w->Add(IdOf(0), Codec::kZstd, 10, RandomBytes(5, 1)).ok());
  env.SetFailSync(true);
  EXPECT_FALSE(w->Seal().ok());
  env.SetFailSync(false);
  EXPECT_FALSE(w->Seal().ok());  // still broken
  EXPECT_FALSE(w->Add(IdOf(1), Codec::kRaw, 1, RandomBytes(1, 1)).ok());
}

TEST_F(PackTest, RejectsOversizedOrUnknownRecords) {
  auto w = PackWriter::Create(Env::Default(), path_, 7).value();
  EXPECT_EQ(w->Add(IdOf(0), static_cast<Codec>(17), 1, RandomBytes(1, 1)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(w->Add(IdOf(0), Codec::kRaw, pack::kMaxChunkSize + 1, RandomBytes(1, 1))
                .status()
                .code(),
            Code::kInvalidArgument);
  // Argument errors do not touch the file, so the writer is still usable.
  EXPECT_TRUE(w->Add(IdOf(0), Codec::kRaw, 1, RandomBytes(1, 1)).ok());
}

}  // namespace
}  // namespace ckptfs
