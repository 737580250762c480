#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <functional>
#include <memory>
#include <vector>

class QTcpSocket;

namespace agmem {

// Writes large answer bodies (a /pull answer: a few hundred pieces, tens of MB) to their
// sockets a slice at a time, so that the HTTP thread goes on serving the other connections
// meanwhile instead of copying megabytes for one client while pushes wait.
//
// A body's socket gets its next slice only once what it holds already went to the system
// (its buffer below SliceBytes). All bodies together get a bounded share of the thread's
// time: each pass ("pump", one per event-loop pass while a socket can take more) may write
// for as long as the thread spent outside the pumps since the last one, times Share, and at
// least one slice, so bodies never starve; on an otherwise idle thread they go out at full
// speed. The pieces are shared with the socket's buffer, never copied here.
class BodyWriter : public QObject
{
    Q_OBJECT

public:
    explicit BodyWriter(QObject *parent = nullptr);
    // Drops the bodies not written yet without calling their `done`.
    ~BodyWriter() override;

    // Writes `pieces` to `socket`, after what its buffer holds already. `done(true)` once
    // the last piece was handed to the socket, `done(false)` if the socket went first.
    // `done` is called from the event loop, never from inside write().
    void write(QTcpSocket *socket, QList<QByteArray> pieces, std::function<void(bool)> done);
    // Bodies not handed over completely yet.
    qsizetype pending() const { return qsizetype(m_jobs.size()); }

    // About this much of one body per turn (whole pieces, at least one).
    static constexpr qsizetype SliceBytes = 64 * 1024;
    // Bodies may use up to Share times the time the thread spends on everything else.
    static constexpr double Share = 0.5;
    // Unused time does not pile up beyond this (a burst after an idle while).
    static constexpr qint64 MaxCreditNs = 20'000'000;

    struct Counters
    {
        qint64 pumps = 0;
        qint64 slices = 0;
        // Pumps that stopped with a socket ready for more: their time was used up.
        qint64 yielded = 0;
    };
    const Counters &counters() const { return m_counters; }

private:
    struct Job;
    static qint64 queued(QTcpSocket *socket);
    void schedule();
    void pump();
    void watchBlocked();

    std::vector<std::shared_ptr<Job>> m_jobs;
    size_t m_next = 0;
    bool m_scheduled = false;
    bool m_pumping = false;
    qint64 m_creditNs = MaxCreditNs;
    QElapsedTimer m_sincePump;
    // Sockets whose signals are blocked (held by the connection guard) do not report
    // bytesWritten: looked at on this timer while a body waits for its socket to drain.
    QTimer m_poll;
    Counters m_counters;
};

} // namespace agmem
