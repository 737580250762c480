#include "bodywriter.h"

#include <QSslSocket>
#include <QTcpSocket>

#include <algorithm>
#include <utility>

namespace agmem {

struct BodyWriter::Job
{
    QPointer<QTcpSocket> socket;
    QList<QByteArray> pieces;
    qsizetype next = 0;
    std::function<void(bool)> done;
    QList<QMetaObject::Connection> watches;
};

BodyWriter::BodyWriter(QObject *parent)
    : QObject(parent)
{
    m_poll.setInterval(2);
    connect(&m_poll, &QTimer::timeout, this, [this] { schedule(); });
}

BodyWriter::~BodyWriter()
{
    for (const auto &job : m_jobs) {
        for (const auto &watch : std::as_const(job->watches))
            disconnect(watch);
    }
}

qint64 BodyWriter::queued(QTcpSocket *socket)
{
    // A QSslSocket counts only what it has not encrypted yet; the encrypted rest waits in
    // the TCP socket beneath it.
    const auto *ssl = qobject_cast<QSslSocket *>(socket);
    return socket->bytesToWrite() + (ssl ? ssl->encryptedBytesToWrite() : 0);
}

void BodyWriter::write(QTcpSocket *socket, QList<QByteArray> pieces, std::function<void(bool)> done)
{
    auto job = std::make_shared<Job>();
    job->socket = socket;
    job->pieces = std::move(pieces);
    job->done = std::move(done);
    if (socket) {
        const auto drained = [this, s = QPointer<QTcpSocket>(socket)] {
            if (!m_pumping && s && queued(s) < SliceBytes)
                schedule();
        };
        job->watches.append(connect(socket, &QIODevice::bytesWritten, this, drained));
        if (auto *ssl = qobject_cast<QSslSocket *>(socket))
            job->watches.append(connect(ssl, &QSslSocket::encryptedBytesWritten, this, drained));
        job->watches.append(
            connect(socket, &QAbstractSocket::disconnected, this, [this] { schedule(); }));
        job->watches.append(connect(socket, &QObject::destroyed, this, [this] { schedule(); }));
    }
    m_jobs.push_back(std::move(job));
    schedule();
}

void BodyWriter::schedule()
{
    if (m_scheduled)
        return;
    m_scheduled = true;
    QMetaObject::invokeMethod(this, &BodyWriter::pump, Qt::QueuedConnection);
}

void BodyWriter::pump()
{
    m_scheduled = false;
    if (m_jobs.empty()) {
        m_poll.stop();
        return;
    }
    ++m_counters.pumps;
    // The time since the last pump went to everything else (or to waiting for work).
    const qint64 outside = m_sincePump.isValid() ? m_sincePump.nsecsElapsed() : MaxCreditNs;
    m_creditNs = std::min(MaxCreditNs, m_creditNs + qint64(double(outside) * Share));
    QElapsedTimer timer;
    timer.start();
    m_pumping = true;
    std::vector<std::pair<std::function<void(bool)>, bool>> finished;
    const auto finish = [&](size_t index, bool ok) {
        Job &job = *m_jobs[index];
        for (const auto &watch : std::as_const(job.watches))
            disconnect(watch);
        finished.emplace_back(std::move(job.done), ok);
        m_jobs.erase(m_jobs.begin() + qsizetype(index));
    };
    bool wrote = false;
    size_t waiting = 0; // jobs in a row whose socket is still full
    while (!m_jobs.empty() && waiting < m_jobs.size()) {
        if (m_next >= m_jobs.size())
            m_next = 0;
        Job &job = *m_jobs[m_next];
        QTcpSocket *socket = job.socket;
        if (!socket || !socket->isOpen() || socket->state() != QAbstractSocket::ConnectedState) {
            finish(m_next, false);
            waiting = 0;
            continue;
        }
        if (queued(socket) >= SliceBytes) {
            ++m_next;
            ++waiting;
            continue;
        }
        if (wrote && timer.nsecsElapsed() >= m_creditNs) {
            ++m_counters.yielded;
            break;
        }
        qsizetype bytes = 0;
        while (job.next < job.pieces.size() && bytes < SliceBytes) {
            // The socket's buffer shares the piece (4 kB and more); this job lets go of it.
            QByteArray piece = std::exchange(job.pieces[job.next++], QByteArray());
            bytes += piece.size();
            socket->write(piece);
        }
        socket->flush();
        wrote = true;
        ++m_counters.slices;
        waiting = 0;
        if (job.next == job.pieces.size())
            finish(m_next, true);
        else
            ++m_next;
    }
    m_pumping = false;
    m_creditNs = std::max(-MaxCreditNs, m_creditNs - timer.nsecsElapsed());
    // Someone can take more now: the next pass. The others report bytesWritten, unless
    // the connection guard blocks the socket's signals (it holds reading while an answer is
    // pending, at any time): looked at on the timer as well while bodies wait.
    bool waitingJobs = false;
    for (const auto &job : m_jobs) {
        QTcpSocket *socket = job->socket;
        if (!socket || queued(socket) < SliceBytes)
            schedule();
        else
            waitingJobs = true;
    }
    if (waitingJobs && !m_poll.isActive())
        m_poll.start();
    else if (!waitingJobs)
        m_poll.stop();
    m_sincePump.start();
    for (auto &[done, ok] : finished) {
        if (done)
            done(ok);
    }
}

} // namespace agmem
