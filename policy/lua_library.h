/* lua_library.h: the registry's Redis Functions library, built in.
 *
 * policy/lua/NN-*.lua are joined into this C string at build time
 * (policy/lua/embed.cmake), so mqgatectl and mqgate always carry the
 * library that matches their code. A client whose FCALL is answered with
 * "Function not found" loads it with FUNCTION LOAD REPLACE and calls
 * again: a fresh Redis needs no setup step. The library's name
 * (MQG_LUA_LIBRARY in schema.h) is on its first line. */
#ifndef MQG_LUA_LIBRARY_H
#define MQG_LUA_LIBRARY_H

#include <stddef.h>

/* mqg_lua_library is the library's source text, NUL-terminated. */
extern const char mqg_lua_library[];

/* mqg_lua_library_len is strlen(mqg_lua_library). */
extern const size_t mqg_lua_library_len;

#endif
