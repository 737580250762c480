#include "storecopy.h"

#include <QScopeGuard>
#include <QSqlError>
#include <QSqlQuery>

namespace agmem {

namespace {

QVariant nullString()
{
    return QVariant(QMetaType::fromType<QString>());
}

QVariant nullInt()
{
    return QVariant(QMetaType::fromType<qint64>());
}

// A nullable column as read, or a typed NULL (QPSQL needs the type to bind it).
QVariant textOrNull(const QSqlQuery &q, int column)
{
    return q.isNull(column) ? nullString() : QVariant(q.value(column).toString());
}

QVariant intOrNull(const QSqlQuery &q, int column)
{
    return q.isNull(column) ? nullInt() : QVariant(q.value(column).toLongLong());
}

bool failed(const QSqlQuery &q, const QString &what, QString *error)
{
    *error = QStringLiteral("%1: %2").arg(what, q.lastError().text().trimmed());
    return false;
}

qint64 count(Store &store, const QString &table, bool *ok)
{
    QSqlQuery q(store.database());
    if (!q.exec(QStringLiteral("SELECT COUNT(*) FROM ") + table) || !q.next()) {
        *ok = false;
        return 0;
    }
    return q.value(0).toLongLong();
}

} // namespace

QString StoreCounts::describe() const
{
    return QStringLiteral("%1 summaries, %2 agents, %3 API keys, sequence %4, %5 pushes")
        .arg(summaries)
        .arg(agents)
        .arg(keys)
        .arg(sequence)
        .arg(totalPushes);
}

std::optional<StoreCounts> countStore(Store &store)
{
    bool ok = true;
    StoreCounts c;
    c.summaries = count(store, QStringLiteral("summaries"), &ok);
    c.agents = count(store, QStringLiteral("agents"), &ok);
    c.keys = count(store, QStringLiteral("api_keys"), &ok);
    const std::optional<StoreState> state = store.readState();
    if (!ok || !state)
        return std::nullopt;
    c.sequence = state->sequence;
    c.totalPushes = state->totalPushes;
    return c;
}

bool copyStore(Store &from, Store &to, bool replace, StoreCounts *copied, QString *error)
{
    const SqlDialect &in = from.dialect();
    const SqlDialect &out = to.dialect();
    const QSqlDatabase src = from.database();
    const QSqlDatabase dst = to.database();
    // Reading the source in one transaction gives one consistent picture of it, also while
    // a coordinator writes to it (SQLite: a read transaction; PostgreSQL: a snapshot).
    QSqlQuery begin(src);
    begin.exec(in.isPostgres() ? QStringLiteral("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                               : QStringLiteral("BEGIN"));
    const auto endRead = qScopeGuard([src] { QSqlQuery(src).exec(QStringLiteral("ROLLBACK")); });
    const std::optional<StoreCounts> source = countStore(from);
    const std::optional<StoreCounts> target = countStore(to);
    if (!source || !target) {
        *error = QStringLiteral("cannot count the rows: %1")
                     .arg(!source ? from.lastError() : to.lastError());
        return false;
    }
    if (!target->empty() && !replace) {
        *error = QStringLiteral("the target %1 is not empty (%2); use --force to replace what "
                                "it holds")
                     .arg(to.url().displayName(), target->describe());
        return false;
    }

    const auto abort = [&to](bool result) {
        to.rollback();
        return result;
    };
    if (!to.beginWrite() || !to.lockState()) {
        *error = to.lastError();
        return abort(false);
    }
    QSqlQuery del(dst);
    for (const QString &table :
         {QStringLiteral("summaries"), QStringLiteral("agents"), QStringLiteral("api_keys")}) {
        if (!del.exec(QStringLiteral("DELETE FROM ") + table))
            return abort(failed(del, QStringLiteral("empty the target"), error));
    }

    // History.
    {
        QSqlQuery r(src);
        r.setForwardOnly(true);
        if (!r.exec(QStringLiteral("SELECT id, agent_id, timestamp_us, topic_counts, fact_hashes, "
                                   "metadata, memory_types, source, received_us, prev_id FROM "
                                   "summaries ORDER BY id")))
            return abort(failed(r, QStringLiteral("read summaries"), error));
        QSqlQuery w(dst);
        if (!w.prepare(out.sql(QStringLiteral(
                "INSERT INTO summaries (id, agent_id, timestamp, timestamp_us, topic_counts, "
                "fact_hashes, metadata, memory_types, source, created_at, received_us, prev_id) "
                "VALUES (?, ?, ?ts, ?, ?json, ?array, ?json, ?json, ?, ?ts, ?, ?)"))))
            return abort(failed(w, QStringLiteral("copy summaries"), error));
        while (r.next()) {
            w.bindValue(0, r.value(0).toLongLong());
            w.bindValue(1, r.value(1).toString());
            w.bindValue(2, out.encodeTimestamp(r.value(2).toLongLong()));
            w.bindValue(3, r.value(2).toLongLong());
            w.bindValue(4, r.value(3).toString());
            w.bindValue(5, out.encodeTextArray(in.decodeTextArray(r.value(4).toString())));
            w.bindValue(6, textOrNull(r, 5));
            w.bindValue(7, textOrNull(r, 6));
            w.bindValue(8, textOrNull(r, 7));
            w.bindValue(9, out.encodeTimestamp(r.value(8).toLongLong()));
            w.bindValue(10, r.value(8).toLongLong());
            w.bindValue(11, intOrNull(r, 9));
            if (!w.exec())
                return abort(failed(w, QStringLiteral("copy summaries"), error));
        }
    }
    // Agents.
    {
        QSqlQuery r(src);
        r.setForwardOnly(true);
        if (!r.exec(QStringLiteral("SELECT agent_id, first_seen_us, last_seen_us, push_count, "
                                   "current_timestamp_us, topic_counts, fact_hashes, sequence, "
                                   "history_tail FROM agents")))
            return abort(failed(r, QStringLiteral("read agents"), error));
        QSqlQuery w(dst);
        if (!w.prepare(out.sql(QStringLiteral(
                "INSERT INTO agents (agent_id, first_seen_us, last_seen_us, push_count, "
                "current_timestamp_us, topic_counts, fact_hashes, sequence, history_tail) VALUES "
                "(?, ?, ?, ?, ?, ?json, ?array, ?, ?)"))))
            return abort(failed(w, QStringLiteral("copy agents"), error));
        while (r.next()) {
            w.bindValue(0, r.value(0).toString());
            w.bindValue(1, r.value(1).toLongLong());
            w.bindValue(2, r.value(2).toLongLong());
            w.bindValue(3, r.value(3).toLongLong());
            w.bindValue(4, intOrNull(r, 4));
            w.bindValue(5, textOrNull(r, 5));
            w.bindValue(6, r.isNull(6) ? nullString()
                                       : QVariant(out.encodeTextArray(
                                             in.decodeTextArray(r.value(6).toString()))));
            w.bindValue(7, r.value(7).toLongLong());
            w.bindValue(8, intOrNull(r, 8));
            if (!w.exec())
                return abort(failed(w, QStringLiteral("copy agents"), error));
        }
    }
    // API keys (hashes only: the keys themselves were never stored).
    {
        QSqlQuery r(src);
        r.setForwardOnly(true);
        if (!r.exec(QStringLiteral("SELECT id, name, prefix, key_hash, scopes, created_us, "
                                   "last_used_us, revoked_us FROM api_keys ORDER BY id")))
            return abort(failed(r, QStringLiteral("read API keys"), error));
        QSqlQuery w(dst);
        if (!w.prepare(QStringLiteral("INSERT INTO api_keys (id, name, prefix, key_hash, scopes, "
                                      "created_us, last_used_us, revoked_us) VALUES "
                                      "(?, ?, ?, ?, ?, ?, ?, ?)")))
            return abort(failed(w, QStringLiteral("copy API keys"), error));
        while (r.next()) {
            w.bindValue(0, r.value(0).toLongLong());
            for (int i = 1; i <= 4; ++i)
                w.bindValue(i, r.value(i).toString());
            w.bindValue(5, r.value(5).toLongLong());
            w.bindValue(6, intOrNull(r, 6));
            w.bindValue(7, intOrNull(r, 7));
            if (!w.exec())
                return abort(failed(w, QStringLiteral("copy API keys"), error));
        }
    }
    // The state: same identity and sequence, so clients' ETags stay valid.
    {
        QSqlQuery r(src);
        if (!r.exec(QStringLiteral("SELECT database_id, sequence, total_pushes, merge_mode, "
                                   "keys_version, reset_generation FROM coordinator_state "
                                   "WHERE id = 1")) ||
            !r.next())
            return abort(failed(r, QStringLiteral("read state"), error));
        QSqlQuery w(dst);
        w.prepare(QStringLiteral("UPDATE coordinator_state SET database_id = ?, sequence = ?, "
                                 "total_pushes = ?, merge_mode = ?, keys_version = keys_version "
                                 "+ 1 + ?, reset_generation = reset_generation + 1 + ? "
                                 "WHERE id = 1"));
        w.bindValue(0, r.value(0).toString());
        w.bindValue(1, r.value(1).toLongLong());
        w.bindValue(2, r.value(2).toLongLong());
        w.bindValue(3, r.value(3).toString());
        w.bindValue(4, r.value(4).toLongLong());
        w.bindValue(5, r.value(5).toLongLong());
        if (!w.exec())
            return abort(failed(w, QStringLiteral("copy state"), error));
    }
    if (out.isPostgres()) {
        // Explicit ids leave the serial sequences behind: move them past the copied rows.
        QSqlQuery q(dst);
        for (const QString &table : {QStringLiteral("summaries"), QStringLiteral("api_keys")}) {
            if (!q.exec(QStringLiteral("SELECT setval(pg_get_serial_sequence('%1', 'id'), "
                                       "COALESCE((SELECT MAX(id) FROM %1), 1), "
                                       "(SELECT COUNT(*) > 0 FROM %1))")
                            .arg(table)))
                return abort(failed(q, QStringLiteral("advance the id sequence"), error));
        }
    }
    if (!to.commit()) {
        *error = to.lastError();
        return false;
    }

    const std::optional<StoreCounts> after = countStore(to);
    if (!after || !(*after == *source)) {
        *error = QStringLiteral("the copy does not match: the source holds %1, the target %2")
                     .arg(source->describe(), after ? after->describe() : to.lastError());
        return false;
    }
    if (copied)
        *copied = *after;
    return true;
}

} // namespace agmem
