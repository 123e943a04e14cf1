# fault_coverage.cmake — fails when optcl's archive calls an OpenCL function or a file operation
# that test_faults does not wrap (so a new call would escape the fault walk unnoticed).
# cmake -DNM=nm -DARCHIVE=liboptcl.a -DLIST=fault_wrapped.txt -P fault_coverage.cmake
cmake_minimum_required(VERSION 3.20) # IN_LIST
execute_process(COMMAND ${NM} -u ${ARCHIVE} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${ARCHIVE} failed (${rc})")
endif()
file(STRINGS ${LIST} wrapped REGEX "^[a-z_]")
# The libc calls that touch files, their fortified forms included (those would bypass the
# wrappers of the plain names).
set(file_ops fopen fdopen freopen fmemopen tmpfile open open64 openat creat mkstemp mkostemp
  mkdtemp fwrite fread fgetc getc fgets fputc putc fputs fprintf vfprintf fscanf fflush fsync
  fdatasync fclose close read write pread pwrite rename renameat unlink unlinkat remove fchmod
  chmod fseek fseeko ftell ftello rewind fstat fstat64 stat stat64 lstat truncate ftruncate
  opendir readdir mkdir rmdir link symlink __open_2 __fread_chk __fgets_chk __read_chk
  __fprintf_chk __vfprintf_chk __fxstat __xstat)
string(REGEX MATCHALL "[ \t]U ([A-Za-z_0-9]+)" refs "${undefined}")
set(missing "")
foreach(ref ${refs})
  string(REGEX REPLACE "^[ \t]U " "" name "${ref}")
  if(name MATCHES "^cl[A-Z]" OR name IN_LIST file_ops)
    if(NOT name IN_LIST wrapped AND NOT name IN_LIST missing)
      list(APPEND missing ${name})
    endif()
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "optcl calls ${missing}, which tests/fault_wrapped.txt does not list: "
                      "add a wrapper to tests/fault_seam.c and the name to the list")
endif()
list(LENGTH wrapped n)
message(STATUS "every OpenCL call and file operation of optcl is among the ${n} wrapped names")
