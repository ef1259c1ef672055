# FUSE adapter: libfuse3 low-level operations over the Filesystem
# (fs/fuse_adapter.*). Kept apart from ckptfs_fs so the core never depends on
# libfuse. Included from fs/CMakeLists.txt; mount-tools/ includes it too when
# it is not (hence the guard).
if(NOT TARGET ckptfs_fuse)
  add_library(ckptfs_fuse STATIC ${CMAKE_CURRENT_LIST_DIR}/fuse_adapter.cc)
  target_link_libraries(ckptfs_fuse
    PUBLIC ckptfs_fs PkgConfig::FUSE3 Threads::Threads
    PRIVATE spdlog::spdlog)
endif()
