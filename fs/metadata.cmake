# ckptfs_metadata: the SQLite MetadataStore (fs/metadata.h).
# Depends on base only: chunk_id.h is used header-only, so metadata does not
# link ckptfs_codec.
add_library(ckptfs_metadata STATIC
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_db.cc
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_schema.cc
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_metadata.cc
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_data.cc
)
target_link_libraries(ckptfs_metadata PUBLIC ckptfs_base PkgConfig::SQLITE3 Threads::Threads)

add_executable(metadata_test ${CMAKE_CURRENT_LIST_DIR}/metadata_test.cc)
target_link_libraries(metadata_test PRIVATE ckptfs_metadata PkgConfig::SQLITE3 GTest::gtest_main)
include(GoogleTest)
gtest_discover_tests(metadata_test DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 120)
