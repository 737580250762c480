#include "sqlitedirect.h"

#include <QSqlDriver>
#include <QVariant>

#include <type_traits>

#if defined(Q_OS_UNIX)
#include <dlfcn.h>
#endif

namespace agmem {

namespace {

constexpr int SqliteOk = 0;
constexpr int SqliteRow = 100;
constexpr int SqliteDone = 101;
// SQLITE_STATIC: SQLite uses the caller's bytes (valid until run() clears the bindings)
// instead of copying each value into memory of its own.
constexpr void (*Static)(void *) = nullptr;

} // namespace

// The few functions used, with SQLite's C signatures (sqlite3 and sqlite3_stmt opaque).
struct SqliteDirect::Api
{
    int (*prepare_v2)(void *, const char *, int, void **, const char **) = nullptr;
    int (*bind_text)(void *, int, const char *, int, void (*)(void *)) = nullptr;
    int (*bind_int64)(void *, int, qint64) = nullptr;
    int (*bind_null)(void *, int) = nullptr;
    int (*step)(void *) = nullptr;
    int (*reset)(void *) = nullptr;
    int (*clear_bindings)(void *) = nullptr;
    int (*finalize)(void *) = nullptr;
    const char *(*errmsg)(void *) = nullptr;
    int (*changes)(void *) = nullptr;
};

SqliteDirect::SqliteDirect(void *db, std::unique_ptr<Api> api)
    : m_db(db)
    , m_api(std::move(api))
{}

SqliteDirect::~SqliteDirect() = default;

std::unique_ptr<SqliteDirect> SqliteDirect::attach(const QSqlDriver *driver)
{
#if defined(Q_OS_UNIX)
    if (!driver)
        return nullptr;
    const QVariant handle = driver->handle();
    if (!handle.isValid() || qstrcmp(handle.typeName(), "sqlite3*") != 0)
        return nullptr;
    void *db = *static_cast<void *const *>(handle.constData());
    if (!db)
        return nullptr;
    // The plugin that holds the driver (its vtable is in it), and through its handle the
    // SQLite it was linked with: the one that opened `db`.
    Dl_info info{};
    if (!dladdr(*reinterpret_cast<void *const *>(driver), &info) || !info.dli_fname)
        return nullptr;
    void *plugin = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!plugin)
        return nullptr;
    auto api = std::make_unique<Api>();
    bool ok = true;
    const auto resolve = [&](auto &function, const char *name) {
        function =
            reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(plugin, name));
        ok = ok && function;
    };
    resolve(api->prepare_v2, "sqlite3_prepare_v2");
    resolve(api->bind_text, "sqlite3_bind_text");
    resolve(api->bind_int64, "sqlite3_bind_int64");
    resolve(api->bind_null, "sqlite3_bind_null");
    resolve(api->step, "sqlite3_step");
    resolve(api->reset, "sqlite3_reset");
    resolve(api->clear_bindings, "sqlite3_clear_bindings");
    resolve(api->finalize, "sqlite3_finalize");
    resolve(api->errmsg, "sqlite3_errmsg");
    resolve(api->changes, "sqlite3_changes");
    // The plugin stays loaded while the driver lives: this reference changes nothing.
    dlclose(plugin);
    if (!ok)
        return nullptr;
    return std::unique_ptr<SqliteDirect>(new SqliteDirect(db, std::move(api)));
#else
    Q_UNUSED(driver);
    return nullptr;
#endif
}

std::unique_ptr<SqliteDirect::Statement> SqliteDirect::prepare(const QByteArray &sql, int *code,
                                                               QString *error) const
{
    void *stmt = nullptr;
    *code = m_api->prepare_v2(m_db, sql.constData(), int(sql.size()), &stmt, nullptr);
    if (*code != SqliteOk || !stmt) {
        *error = errorMessage();
        if (stmt)
            m_api->finalize(stmt);
        return nullptr;
    }
    return std::unique_ptr<Statement>(new Statement(this, stmt));
}

QString SqliteDirect::errorMessage() const
{
    return QString::fromUtf8(m_api->errmsg(m_db));
}

int SqliteDirect::changes() const
{
    return m_api->changes(m_db);
}

SqliteDirect::Statement::~Statement()
{
    m_api->m_api->finalize(m_stmt);
}

void SqliteDirect::Statement::bindText(int position, QByteArrayView utf8)
{
    // A null view would bind NULL: an empty text stays text.
    m_api->m_api->bind_text(m_stmt, position, utf8.isNull() ? "" : utf8.data(), int(utf8.size()),
                            Static);
}

void SqliteDirect::Statement::bindInt64(int position, qint64 value)
{
    m_api->m_api->bind_int64(m_stmt, position, value);
}

void SqliteDirect::Statement::bindNull(int position)
{
    m_api->m_api->bind_null(m_stmt, position);
}

int SqliteDirect::Statement::run()
{
    int code = m_api->m_api->step(m_stmt);
    while (code == SqliteRow)
        code = m_api->m_api->step(m_stmt);
    // reset() repeats the step's error code; after SQLITE_DONE it returns SQLITE_OK.
    const int reset = m_api->m_api->reset(m_stmt);
    // No binding outlives the bytes it points to (bindText() does not copy them).
    m_api->m_api->clear_bindings(m_stmt);
    return code == SqliteDone ? reset : code;
}

} // namespace agmem
