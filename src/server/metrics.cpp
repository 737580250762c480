#include "metrics.h"

#include "accesslog.h"

#include "coordinatorapi.h"
#include "operationsapi.h"

namespace agmem {

namespace {

QByteArray escapeLabel(const QString &value)
{
    QByteArray out;
    for (const char c : value.toUtf8()) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

QByteArray number(double value)
{
    return QByteArray::number(value, 'g', 17);
}

void header(QByteArray &out, const char *name, const char *type, const char *help)
{
    out += QByteArrayLiteral("# HELP ") + name + ' ' + help + '\n';
    out += QByteArrayLiteral("# TYPE ") + name + ' ' + type + '\n';
}

} // namespace

QString Metrics::routeLabel(const QString &redacted)
{
    QString path = redacted;
    if (path.startsWith(u"/k/")) {
        const qsizetype slash = path.indexOf(u'/', 3);
        path = slash < 0 ? QStringLiteral("/") : path.mid(slash);
    }
    for (const CoordinatorApi::Route &r : CoordinatorApi::routes()) {
        QString parameter;
        if (CoordinatorApi::matchRoute(r.path, path, &parameter))
            return r.path;
    }
    return QStringLiteral("unmatched");
}

QString Metrics::pushReason(int status)
{
    switch (status) {
    case 400:
        return QStringLiteral("bad_request");
    case 401:
        return QStringLiteral("unauthorized");
    case 403:
        return QStringLiteral("forbidden");
    case 408:
        return QStringLiteral("timeout");
    case 413:
        return QStringLiteral("too_large");
    case 415:
        return QStringLiteral("unsupported_media_type");
    case 422:
        return QStringLiteral("invalid");
    case 429:
        return QStringLiteral("rate_limited");
    case 503:
        return QStringLiteral("unavailable");
    default:
        return QStringLiteral("status_%1").arg(status);
    }
}

void Metrics::record(const RequestEvent &event)
{
    if (event.status == 429)
        ++m_rateLimited;
    if (event.method.isEmpty()) {
        // Refused by the ConnectionGuard before a request was parsed.
        ++m_requests[{QStringLiteral("(connection)"), QStringLiteral("NONE"), event.status}];
        return;
    }
    if (!m_last.requests || event.status != m_last.status || event.path != m_last.path ||
        event.method != m_last.method || event.note != m_last.note) {
        const QString route = routeLabel(event.path);
        m_last.path = event.path;
        m_last.method = event.method;
        m_last.status = event.status;
        m_last.note = event.note;
        m_last.requests = &m_requests[{route, QString::fromLatin1(event.method), event.status}];
        m_last.duration = &m_durations[route];
        m_last.pushes = nullptr;
        if (route == u"/push" && event.method == "POST") {
            if (event.status >= 200 && event.status < 300) {
                m_last.pushes =
                    &m_pushes[{QStringLiteral("accepted"),
                               event.note.isEmpty() ? QStringLiteral("merged") : event.note}];
            } else {
                m_last.pushes = &m_pushes[{QStringLiteral("rejected"), pushReason(event.status)}];
            }
        }
    }
    ++*m_last.requests;
    Histogram &h = *m_last.duration;
    const double seconds = event.milliseconds / 1000.0;
    for (size_t i = 0; i < Buckets.size(); ++i) {
        if (seconds <= Buckets[i])
            ++h.counts[i];
    }
    h.sum += seconds;
    ++h.count;
    if (m_last.pushes)
        ++*m_last.pushes;
}

QByteArray Metrics::exposition(const Gauges &gauges) const
{
    QByteArray out;
    header(out, "agmem_pushes_total", "counter",
           "Pushes answered, by result (accepted or rejected) and reason.");
    for (const auto &[key, value] : m_pushes) {
        out += "agmem_pushes_total{result=\"" + escapeLabel(key.first) + "\",reason=\"" +
               escapeLabel(key.second) + "\"} " + QByteArray::number(value) + '\n';
    }
    header(out, "agmem_http_requests_total", "counter",
           "HTTP requests answered, by route, method and status.");
    for (const auto &[key, value] : m_requests) {
        const auto &[route, method, status] = key;
        out += "agmem_http_requests_total{route=\"" + escapeLabel(route) + "\",method=\"" +
               escapeLabel(method) + "\",status=\"" + QByteArray::number(status) + "\"} " +
               QByteArray::number(value) + '\n';
    }
    header(out, "agmem_http_request_duration_seconds", "histogram",
           "Time from a parsed request to its answer, by route.");
    for (const auto &[route, h] : m_durations) {
        const QByteArray label = "route=\"" + escapeLabel(route) + '"';
        for (size_t i = 0; i < Buckets.size(); ++i) {
            out += "agmem_http_request_duration_seconds_bucket{" + label + ",le=\"" +
                   number(Buckets[i]) + "\"} " + QByteArray::number(h.counts[i]) + '\n';
        }
        out += "agmem_http_request_duration_seconds_bucket{" + label + ",le=\"+Inf\"} " +
               QByteArray::number(h.count) + '\n';
        out += "agmem_http_request_duration_seconds_sum{" + label + "} " + number(h.sum) + '\n';
        out += "agmem_http_request_duration_seconds_count{" + label + "} " +
               QByteArray::number(h.count) + '\n';
    }
    header(out, "agmem_rate_limited_total", "counter", "Requests answered 429 Too Many Requests.");
    out += "agmem_rate_limited_total " + QByteArray::number(m_rateLimited) + '\n';
    header(out, "agmem_access_log_dropped_total", "counter",
           "Access-log lines dropped because the log's output could not keep up.");
    out += "agmem_access_log_dropped_total " + QByteArray::number(AccessLogWriter::droppedTotal()) +
           '\n';
    header(out, "agmem_agents", "gauge", "Agents known to the merged view.");
    out += "agmem_agents " + QByteArray::number(gauges.agents) + '\n';
    header(out, "agmem_unique_facts", "gauge", "Distinct fact hashes in the merged view.");
    out += "agmem_unique_facts " + QByteArray::number(gauges.uniqueFacts) + '\n';
    header(out, "agmem_topics", "gauge", "Topics in the merged view.");
    out += "agmem_topics " + QByteArray::number(gauges.topics) + '\n';
    if (gauges.storeBytes >= 0) {
        header(out, "agmem_store_bytes", "gauge",
               "Size of the database (SQLite file and WAL, or pg_database_size).");
        out += "agmem_store_bytes " + QByteArray::number(gauges.storeBytes) + '\n';
    }
    header(out, "agmem_push_commit_size", "histogram",
           "Pushes committed together in one store transaction (group commit).");
    qint64 commits = 0;
    for (size_t i = 0; i < WriterTotals::CommitSizeBounds.size(); ++i) {
        commits += gauges.commitSizes[i];
        out += "agmem_push_commit_size_bucket{le=\"" +
               QByteArray::number(WriterTotals::CommitSizeBounds[i]) + "\"} " +
               QByteArray::number(commits) + '\n';
    }
    commits += gauges.commitSizes.back();
    out += "agmem_push_commit_size_bucket{le=\"+Inf\"} " + QByteArray::number(commits) + '\n';
    out += "agmem_push_commit_size_sum " + QByteArray::number(gauges.committedInBatches) + '\n';
    out += "agmem_push_commit_size_count " + QByteArray::number(commits) + '\n';
    header(out, "agmem_open_connections", "gauge", "Open client connections.");
    out += "agmem_open_connections " + QByteArray::number(gauges.openConnections) + '\n';
    return out;
}

} // namespace agmem
