#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <memory>
#include <optional>

class QSqlDriver;

namespace agmem {

// The SQLite library behind Qt's QSQLITE driver, called directly for the push statements:
// through QSqlQuery each bound value costs a QVariant, a hash lookup of its placeholder
// and a UTF-16 copy that SQLite converts back to UTF-8. Reached only through the driver's
// own plugin (its loaded library, looked up by the plugin's handle), so the functions are
// the ones that opened the connection; where that is not possible (no dlopen, SQLite
// linked into the plugin without exported symbols) there is none and the store keeps
// QSqlQuery.
class SqliteDirect
{
public:
    // nullptr when the driver is not QSQLITE or its library cannot be reached.
    static std::unique_ptr<SqliteDirect> attach(const QSqlDriver *driver);

    // Registers (once; not as the default) a VFS over SQLite's default one that gathers
    // the writes to a WAL file in memory and hands them to the file as one write where
    // SQLite makes two per page (a frame's header, then its page): at the sync that ends a
    // commit, before any read, truncation, size query or close of that WAL. Only for a
    // connection whose every commit syncs its WAL (synchronous=FULL): other connections
    // may read a committed frame only after that sync. Its name (for a `?vfs=` URI), or
    // empty when the driver's library cannot be reached (the default VFS is used then).
    static QByteArray walBufferVfs(const QSqlDriver *driver);
    // Turns off SQLite's memory statistics, process-wide, before the library initializes
    // (call it before the first connection of the process opens; afterwards it changes
    // nothing). They cost a global mutex and two counters around every allocation, and the
    // SQLite of Debian and others is built without lookaside memory, so each run of a
    // statement allocates its cursors with malloc(): ~13 allocations per push, the
    // statistics ~3.8k instructions of the writer's ~50k per push. No part of agmem reads
    // them (sqlite3_memory_used(), a soft heap limit).
    static void tuneLibrary(const QSqlDriver *driver);
    ~SqliteDirect();

    class Statement
    {
    public:
        ~Statement();
        Statement(const Statement &) = delete;
        Statement &operator=(const Statement &) = delete;

        // Positions start at 1, as in SQLite. The bytes are not copied: they must stay
        // unchanged until run() returns (which clears every binding).
        void bindText(int position, QByteArrayView utf8);
        void bindInt64(int position, qint64 value);
        void bindNull(int position);
        // Runs the statement to its end, resets it and clears its bindings; SQLite's result
        // code (0: done).
        int run();
        // run() for a statement that reads one value: the first column of its first row
        // into `value` (nullopt when there is no row or the value is NULL).
        int runForInt64(std::optional<qint64> *value);

    private:
        friend class SqliteDirect;
        Statement(const SqliteDirect *api, void *stmt)
            : m_api(api)
            , m_stmt(stmt)
        {}
        const SqliteDirect *m_api;
        void *m_stmt;
    };

    // A statement of the connection (UTF-8 SQL); nullptr and `error` when it does not compile.
    std::unique_ptr<Statement> prepare(const QByteArray &sql, int *code, QString *error) const;
    // The connection's last error message.
    QString errorMessage() const;
    // The rows the connection's last INSERT, UPDATE or DELETE changed.
    int changes() const;

private:
    struct Api;
    SqliteDirect(void *db, std::unique_ptr<Api> api);
    void *m_db;
    std::unique_ptr<Api> m_api;
};

} // namespace agmem
