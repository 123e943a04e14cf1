# exports.cmake — fails when liboptcl.so exports a name that is not the public API's (optcl_
# then a letter; host/optcl.map): an exported internal symbol — the reference loops' FMA
# dispatchers, for one — binds to a program's own copy of the same objects.
# cmake -DNM=nm -DLIBRARY=liboptcl.so -P exports.cmake
execute_process(COMMAND ${NM} -D --defined-only ${LIBRARY} OUTPUT_VARIABLE symbols
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed (${rc})")
endif()
string(REGEX MATCHALL "[ \t][A-Za-z] [^\n]+" entries "${symbols}")
set(public 0)
set(other "")
foreach(entry ${entries})
  string(REGEX REPLACE "^[ \t][A-Za-z] " "" name "${entry}")
  if(name MATCHES "^optcl_[a-z]")
    math(EXPR public "${public} + 1")
  else()
    list(APPEND other ${name})
  endif()
endforeach()
if(other)
  message(FATAL_ERROR "${LIBRARY} exports ${other}: only optcl_* should leave it (host/optcl.map)")
endif()
if(public LESS 100)
  message(FATAL_ERROR "${LIBRARY} exports ${public} optcl_* names: the public API is missing")
endif()
