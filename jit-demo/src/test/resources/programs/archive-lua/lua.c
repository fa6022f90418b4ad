#include <stdio.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
static const char *script =
    "local function counter() local n = 0 return function() n = n + 1 return n end end\n"
    "local c = counter() c() c()\n"
    "print('closure', c())\n"
    "local ok, err = pcall(function() error('boom') end)\n"
    "print('pcall', ok, (err:gsub('^.-: ', '')))\n"
    "local co = coroutine.create(function(a) local b = coroutine.yield(a * 2) return a + b end)\n"
    "print('coroutine', coroutine.resume(co, 5)) print('coroutine', coroutine.resume(co, 10))\n"
    "local t = {} for i = 1, 10 do t[#t + 1] = i * i end print('table', table.concat(t, ','))\n"
    "print(string.format('%s %.3f', _VERSION, math.pi))\n";
int main(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, script) != LUA_OK) { printf("lua error: %s\n", lua_tostring(L, -1)); return 1; }
    lua_close(L);
    return 0;
}
