# embed.cmake: writes the C file that holds text files, joined in the
# order given, as one string.
#   cmake "-DIN=00-core.lua;10-certs.lua;..." -DOUT=lua_library.c
#         -DNAME=mqg_lua_library [-DSCHEMA=schema.h] -P embed.cmake
# The bytes become a hex array (no escaping questions, no length limit of
# string literals) followed by a NUL; NAME_len is the length without it.
# With SCHEMA, the library's name and constants must match schema.h's, or
# the build stops: the Lua code cannot include the header.
set(text "")
foreach(part ${IN})
  file(READ "${part}" one)
  string(APPEND text "${one}")
endforeach()
if(DEFINED SCHEMA)
  file(READ "${SCHEMA}" schema)
  string(REGEX MATCH "#define MQG_LUA_LIBRARY \"([^\"]+)\"" _ "${schema}")
  set(want "${CMAKE_MATCH_1}")
  string(REGEX MATCH "^#!lua name=([A-Za-z0-9_]+)" _ "${text}")
  if(NOT want OR NOT want STREQUAL CMAKE_MATCH_1)
    message(FATAL_ERROR "${IN}: library name '${CMAKE_MATCH_1}', schema.h says '${want}'")
  endif()
  foreach(pair "MQG_RATE_PER_SECOND=RATE_PER_SECOND" "MQG_ASSOC_MAX=ASSOC_MAX"
               "MQG_ASSOC_ID_MAX=ASSOC_ID_MAX" "MQG_AUDIT_MAX=AUDIT_MAX"
               "MQG_REG_CALL_ROWS=CALL_ROWS")
    string(REPLACE "=" ";" pair "${pair}")
    list(GET pair 0 c_name)
    list(GET pair 1 lua_name)
    string(REGEX MATCH "#define ${c_name} ([0-9]+)" _ "${schema}")
    set(want "${CMAKE_MATCH_1}")
    string(REGEX MATCH "local ${lua_name} = ([0-9]+)" _ "${text}")
    if(NOT want OR NOT want STREQUAL CMAKE_MATCH_1)
      message(FATAL_ERROR "${IN}: ${lua_name} = '${CMAKE_MATCH_1}', schema.h ${c_name} = '${want}'")
    endif()
  endforeach()
endif()

set(joined "${OUT}.lua")
file(WRITE "${joined}" "${text}")
file(READ "${joined}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line (CMake regexes have no {n})
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n  " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from policy/lua/NN-*.lua by embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n\n"
  "const char ${NAME}[] = {\n  ${bytes}0x00};\n"
  "const size_t ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
