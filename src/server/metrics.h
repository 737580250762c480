#pragma once

#include "apiserver.h"
#include "store/coordinatorwriter.h"

#include <QByteArray>
#include <QString>

#include <array>
#include <map>
#include <tuple>
#include <utility>

namespace agmem {

class MergeEngine;

// Counters for GET /metrics (Prometheus text exposition format 0.0.4). Fed with every
// answered request (and every request the ConnectionGuard refused) in the server thread.
class Metrics
{
public:
    // Upper bounds of the request duration histogram, in seconds.
    static constexpr std::array<double, 12> Buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,   0.25,   0.5,   1,    5};

    void record(const RequestEvent &event);

    struct Gauges
    {
        qint64 agents = 0;
        qint64 uniqueFacts = 0;
        qint64 topics = 0;
        qint64 storeBytes = -1; // -1: unknown (not exported)
        qint64 openConnections = 0;
        // Pushes per store commit (WriterTotals::commitSizes, committedInBatches).
        std::array<qint64, WriterTotals::CommitSizeBounds.size() + 1> commitSizes{};
        qint64 committedInBatches = 0;
    };
    QByteArray exposition(const Gauges &gauges) const;

    // The route a request path belongs to ("/agents/{agent_id}"), "unmatched" for paths no
    // route answers; the /k/KEY prefix is dropped. Bounds the label values.
    static QString routeLabel(const QString &path);
    // Why a push was refused, from its status ("invalid", "too_large", ...).
    static QString pushReason(int status);

private:
    struct Histogram
    {
        std::array<qint64, Buckets.size()> counts{};
        double sum = 0;
        qint64 count = 0;
    };
    // (route, method, status)
    std::map<std::tuple<QString, QString, int>, qint64> m_requests;
    // (result, reason)
    std::map<std::pair<QString, QString>, qint64> m_pushes;
    std::map<QString, Histogram> m_durations;
    qint64 m_rateLimited = 0;
    // The counters of the last request recorded: a stream of alike requests (a push flood
    // is one route, method, status and note) costs no route match and no map lookups.
    // Pointers into the maps stay valid, as nothing is ever erased from them.
    struct Last
    {
        QString path;
        QByteArray method;
        int status = 0;
        QString note;
        qint64 *requests = nullptr;
        Histogram *duration = nullptr;
        qint64 *pushes = nullptr; // null: not a push
    };
    Last m_last;
};

} // namespace agmem
