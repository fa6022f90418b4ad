#include <stdio.h>
#include <sqlite3.h>
static int row(void *unused, int n, char **values, char **names) {
    for (int i = 0; i < n; i++) printf("%s=%s%s", names[i], values[i] ? values[i] : "NULL", i + 1 < n ? " " : "\n");
    return 0;
}
int main(void) {
    sqlite3 *db;
    char *error = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    const char *sql =
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL);"
        "INSERT INTO t(name, score) VALUES ('ada', 9.5), ('bob', 7.25), ('cy', 8.0);"
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100) "
        "SELECT count(*) AS rows, sum(x) AS total FROM n;"
        "SELECT name, score, printf('%.2f', score * 2) AS doubled FROM t ORDER BY score DESC;"
        "SELECT group_concat(upper(name), '-') AS names, avg(score) AS mean FROM t;";
    if (sqlite3_exec(db, sql, row, NULL, &error) != SQLITE_OK) { printf("error: %s\n", error); return 2; }
    printf("sqlite %s ok\n", sqlite3_libversion());
    sqlite3_close(db);
    return 0;
}
