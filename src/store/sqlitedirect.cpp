#include "sqlitedirect.h"

#include <QSqlDriver>
#include <QVariant>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>

#if defined(Q_OS_UNIX)
#include <dlfcn.h>
#endif

namespace agmem {

namespace {

constexpr int SqliteOk = 0;
constexpr int SqliteRow = 100;
constexpr int SqliteDone = 101;
constexpr int SqliteNull = 5; // SQLITE_NULL, a column's type
// SQLITE_STATIC: SQLite uses the caller's bytes (valid until run() clears the bindings)
// instead of copying each value into memory of its own.
constexpr void (*Static)(void *) = nullptr;

// SQLite's VFS structures as sqlite3.h declares them (version 3 of each; stable ABI), so
// no header of SQLite is needed to build this.
struct File;
struct IoMethods
{
    int iVersion;
    int (*xClose)(File *);
    int (*xRead)(File *, void *, int, qint64);
    int (*xWrite)(File *, const void *, int, qint64);
    int (*xTruncate)(File *, qint64);
    int (*xSync)(File *, int);
    int (*xFileSize)(File *, qint64 *);
    int (*xLock)(File *, int);
    int (*xUnlock)(File *, int);
    int (*xCheckReservedLock)(File *, int *);
    int (*xFileControl)(File *, int, void *);
    int (*xSectorSize)(File *);
    int (*xDeviceCharacteristics)(File *);
    int (*xShmMap)(File *, int, int, int, void volatile **);
    int (*xShmLock)(File *, int, int, int);
    void (*xShmBarrier)(File *);
    int (*xShmUnmap)(File *, int);
    int (*xFetch)(File *, qint64, int, void **);
    int (*xUnfetch)(File *, qint64, void *);
};
struct File
{
    const IoMethods *pMethods;
};
struct Vfs
{
    int iVersion;
    int szOsFile;
    int mxPathname;
    Vfs *pNext;
    const char *zName;
    void *pAppData;
    int (*xOpen)(Vfs *, const char *, File *, int, int *);
    void *rest[15]; // xDelete .. xNextSystemCall: SQLite's own, copied unchanged
};
constexpr int OpenWal = 0x00080000; // SQLITE_OPEN_WAL
constexpr char WalBufferName[] = "agmem-walbuffer";
// Enough for a batch of pushes (about two 4 KB frames each); more is written on.
constexpr int WalBufferSize = 512 * 1024;
constexpr int WalWriteChunk = 64 * 1024;

// A WAL file: SQLite's own file (`real`, right behind this in SQLite's allocation) and the
// bytes written to it since the last flush, [start, start + size).
struct WalFile
{
    File base;
    File *real;
    char *buffer;
    qint64 start;
    int size;
};
constexpr int WalFileSize = int((sizeof(WalFile) + 15) & ~size_t(15));

Vfs *defaultVfs = nullptr;
Vfs bufferVfs;

WalFile *wal(File *file)
{
    return reinterpret_cast<WalFile *>(file);
}

int flush(WalFile *f)
{
    const int size = f->size;
    f->size = 0;
    // In pieces: SQLite's own write takes at most 128 KB - 1 bytes at a time (it masks the
    // length with 0x1ffff) and reports the rest unwritten as a full disk.
    for (int done = 0; done < size; done += WalWriteChunk) {
        const int code = f->real->pMethods->xWrite(
            f->real, f->buffer + done, std::min(WalWriteChunk, size - done), f->start + done);
        if (code != SqliteOk)
            return code;
    }
    return SqliteOk;
}

int walClose(File *file)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    const int closed = f->real->pMethods->xClose(f->real);
    std::free(f->buffer);
    f->buffer = nullptr;
    return flushed != SqliteOk ? flushed : closed;
}

int walRead(File *file, void *out, int amount, qint64 offset)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    return flushed != SqliteOk ? flushed : f->real->pMethods->xRead(f->real, out, amount, offset);
}

int walWrite(File *file, const void *data, int amount, qint64 offset)
{
    WalFile *f = wal(file);
    if (f->size > 0 && offset >= f->start && offset + amount <= f->start + f->size) {
        // Rewritten before it reached the file (SQLite rewrites a frame's checksums).
        std::memcpy(f->buffer + (offset - f->start), data, size_t(amount));
        return SqliteOk;
    }
    if (f->size > 0 && (offset != f->start + f->size || qint64(f->size) + amount > WalBufferSize)) {
        if (const int flushed = flush(f))
            return flushed;
    }
    if (amount >= WalBufferSize)
        return f->real->pMethods->xWrite(f->real, data, amount, offset);
    if (!f->buffer) {
        f->buffer = static_cast<char *>(std::malloc(WalBufferSize));
        if (!f->buffer)
            return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    if (f->size == 0)
        f->start = offset;
    std::memcpy(f->buffer + f->size, data, size_t(amount));
    f->size += amount;
    return SqliteOk;
}

int walTruncate(File *file, qint64 size)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    return flushed != SqliteOk ? flushed : f->real->pMethods->xTruncate(f->real, size);
}

int walSync(File *file, int flags)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    return flushed != SqliteOk ? flushed : f->real->pMethods->xSync(f->real, flags);
}

int walFileSize(File *file, qint64 *size)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    return flushed != SqliteOk ? flushed : f->real->pMethods->xFileSize(f->real, size);
}

int walLock(File *file, int level)
{
    return wal(file)->real->pMethods->xLock(wal(file)->real, level);
}

int walUnlock(File *file, int level)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    const int unlocked = f->real->pMethods->xUnlock(f->real, level);
    return flushed != SqliteOk ? flushed : unlocked;
}

int walCheckReservedLock(File *file, int *out)
{
    return wal(file)->real->pMethods->xCheckReservedLock(wal(file)->real, out);
}

int walFileControl(File *file, int op, void *arg)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    return flushed != SqliteOk ? flushed : f->real->pMethods->xFileControl(f->real, op, arg);
}

int walSectorSize(File *file)
{
    return wal(file)->real->pMethods->xSectorSize(wal(file)->real);
}

int walDeviceCharacteristics(File *file)
{
    return wal(file)->real->pMethods->xDeviceCharacteristics(wal(file)->real);
}

// SQLite keeps the shared memory on the database file, not the WAL: these only forward.
int walShmMap(File *file, int page, int pageSize, int extend, void volatile **out)
{
    return wal(file)->real->pMethods->xShmMap(wal(file)->real, page, pageSize, extend, out);
}

int walShmLock(File *file, int offset, int n, int flags)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    const int locked = f->real->pMethods->xShmLock(f->real, offset, n, flags);
    return flushed != SqliteOk ? flushed : locked;
}

void walShmBarrier(File *file)
{
    WalFile *f = wal(file);
    flush(f);
    f->real->pMethods->xShmBarrier(f->real);
}

int walShmUnmap(File *file, int deleteFlag)
{
    return wal(file)->real->pMethods->xShmUnmap(wal(file)->real, deleteFlag);
}

int walFetch(File *file, qint64 offset, int amount, void **out)
{
    WalFile *f = wal(file);
    const int flushed = flush(f);
    return flushed != SqliteOk ? flushed : f->real->pMethods->xFetch(f->real, offset, amount, out);
}

int walUnfetch(File *file, qint64 offset, void *p)
{
    return wal(file)->real->pMethods->xUnfetch(wal(file)->real, offset, p);
}

const IoMethods walMethods = {
    3,
    walClose,
    walRead,
    walWrite,
    walTruncate,
    walSync,
    walFileSize,
    walLock,
    walUnlock,
    walCheckReservedLock,
    walFileControl,
    walSectorSize,
    walDeviceCharacteristics,
    walShmMap,
    walShmLock,
    walShmBarrier,
    walShmUnmap,
    walFetch,
    walUnfetch,
};

int walBufferOpen(Vfs *, const char *name, File *file, int flags, int *outFlags)
{
    // Every file but a WAL is SQLite's own, unchanged (it fits: this VFS's files are larger).
    if (!(flags & OpenWal))
        return defaultVfs->xOpen(defaultVfs, name, file, flags, outFlags);
    WalFile *f = wal(file);
    File *real = reinterpret_cast<File *>(reinterpret_cast<char *>(file) + WalFileSize);
    real->pMethods = nullptr;
    f->base.pMethods = nullptr;
    const int code = defaultVfs->xOpen(defaultVfs, name, real, flags, outFlags);
    if (code != SqliteOk) {
        // SQLite closes a file whose pMethods is set although it failed: this one's is not,
        // so what SQLite's own open left is closed here.
        if (real->pMethods)
            real->pMethods->xClose(real);
        return code;
    }
    f->real = real;
    f->buffer = nullptr;
    f->start = 0;
    f->size = 0;
    f->base.pMethods = &walMethods;
    return SqliteOk;
}

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
    int (*column_type)(void *, int) = nullptr;
    qint64 (*column_int64)(void *, int) = nullptr;
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
    resolve(api->column_type, "sqlite3_column_type");
    resolve(api->column_int64, "sqlite3_column_int64");
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

void SqliteDirect::tuneLibrary(const QSqlDriver *driver)
{
#if defined(Q_OS_UNIX)
    static std::once_flag once;
    if (!driver)
        return;
    // Once, and before any other thread of this process can open a connection: every SQLite
    // connection is opened by Store::open(), which calls this first (and call_once holds the
    // others until it returned).
    std::call_once(once, [driver] {
        Dl_info info{};
        if (!dladdr(*reinterpret_cast<void *const *>(driver), &info) || !info.dli_fname)
            return;
        void *plugin = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (!plugin)
            return;
        const auto config = reinterpret_cast<int (*)(int, ...)>(dlsym(plugin, "sqlite3_config"));
        dlclose(plugin);
        constexpr int ConfigMemstatus = 9; // SQLITE_CONFIG_MEMSTATUS
        // SQLITE_MISUSE when the library was initialized already: nothing changes then.
        if (config)
            config(ConfigMemstatus, 0);
    });
#else
    Q_UNUSED(driver);
#endif
}

QByteArray SqliteDirect::walBufferVfs(const QSqlDriver *driver)
{
#if defined(Q_OS_UNIX)
    static std::mutex lock;
    static bool registered = false;
    const std::lock_guard<std::mutex> guard(lock);
    if (registered)
        return QByteArray(WalBufferName);
    if (!driver)
        return {};
    Dl_info info{};
    if (!dladdr(*reinterpret_cast<void *const *>(driver), &info) || !info.dli_fname)
        return {};
    void *plugin = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!plugin)
        return {};
    const auto find = reinterpret_cast<Vfs *(*)(const char *)>(dlsym(plugin, "sqlite3_vfs_find"));
    const auto install =
        reinterpret_cast<int (*)(Vfs *, int)>(dlsym(plugin, "sqlite3_vfs_register"));
    dlclose(plugin);
    Vfs *base = find ? find(nullptr) : nullptr;
    if (!install || !base || base->iVersion < 3 || base->szOsFile <= 0)
        return {};
    defaultVfs = base;
    bufferVfs = *base;
    bufferVfs.pNext = nullptr;
    bufferVfs.zName = WalBufferName;
    bufferVfs.szOsFile = WalFileSize + base->szOsFile;
    bufferVfs.xOpen = walBufferOpen;
    if (install(&bufferVfs, 0) != SqliteOk)
        return {};
    registered = true;
    return QByteArray(WalBufferName);
#else
    Q_UNUSED(driver);
    return {};
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

int SqliteDirect::Statement::runForInt64(std::optional<qint64> *value)
{
    value->reset();
    const Api &api = *m_api->m_api;
    int code = api.step(m_stmt);
    if (code == SqliteRow && api.column_type(m_stmt, 0) != SqliteNull)
        *value = api.column_int64(m_stmt, 0);
    while (code == SqliteRow)
        code = api.step(m_stmt);
    const int reset = api.reset(m_stmt);
    api.clear_bindings(m_stmt);
    return code == SqliteDone ? reset : code;
}

} // namespace agmem
