#include "writerthread.h"

#include <QMetaObject>
#include <QScopeGuard>
#include <QSemaphore>

namespace agmem {

WriterThread::WriterThread(int maxBatch)
    : m_maxBatch(qMax(1, maxBatch))
{}

std::unique_ptr<WriterThread> WriterThread::start(const Open &open, int maxBatch, QString *error,
                                                  bool ownThread)
{
    std::unique_ptr<WriterThread> thread(new WriterThread(maxBatch));
    thread->m_host = new QObject;
    if (ownThread) {
        thread->m_thread.setObjectName(QStringLiteral("agmem-writer"));
        thread->m_host->moveToThread(&thread->m_thread);
        connect(&thread->m_thread, &QThread::finished, thread->m_host, &QObject::deleteLater);
        thread->m_thread.start();
    } else {
        thread->m_inlineHost.reset(thread->m_host);
    }
    QString failure;
    thread->runAndWait([&] { thread->m_writer = open(&failure); });
    if (!thread->m_writer) {
        *error = failure;
        return nullptr; // the destructor joins the thread
    }
    return thread;
}

WriterThread::~WriterThread()
{
    // The queued work first, then the writer (its store connection) in its own thread.
    runAndWait([this] { m_writer.reset(); });
    if (m_thread.isRunning()) {
        m_thread.quit();
        m_thread.wait();
    }
    // Callbacks not delivered yet are dropped: whoever waited for them is gone (waitForIdle()
    // first to have them). The work itself is done.
}

void WriterThread::runAndWait(const std::function<void()> &job)
{
    if (QThread::currentThread() == m_host->thread()) {
        // In the writer's thread (or no thread of its own): what is queued first, in order.
        drain();
        job();
        return;
    }
    QSemaphore done;
    enqueue(Item{{}, {}, [&] {
                     job();
                     done.release();
                 }});
    done.acquire();
}

void WriterThread::push(QList<QPair<PushRequest, PushDone>> pushes)
{
    {
        QMutexLocker locker(&m_queueLock);
        for (auto &[push, done] : pushes)
            m_queue.append(Item{std::move(push), std::move(done), {}});
        if (!m_inlineHost && !m_drainPosted && !m_queue.isEmpty())
            wakeWriter();
    }
    if (m_inlineHost)
        drain(); // no thread of its own: commits now, as the caller's own work
}

void WriterThread::enqueue(Item item)
{
    {
        QMutexLocker locker(&m_queueLock);
        m_queue.append(std::move(item));
        if (!m_inlineHost && !m_drainPosted)
            wakeWriter();
    }
    if (m_inlineHost)
        drain();
}

void WriterThread::wakeWriter()
{
    // One wake-up per batch: everything queued until the writer takes the queue rides on it.
    m_drainPosted = true;
    QMetaObject::invokeMethod(
        m_host, [this] { drain(); }, Qt::QueuedConnection);
}

void WriterThread::drain()
{
    if (m_draining)
        return; // runAndWait() from a job: the loop below goes on
    m_draining = true;
    const auto finished = qScopeGuard([this] { m_draining = false; });
    for (;;) {
        QList<Item> items;
        {
            QMutexLocker locker(&m_queueLock);
            if (m_queue.isEmpty()) {
                m_drainPosted = false;
                return;
            }
            // Everything that arrived while the last batch committed: the next batch.
            items = std::exchange(m_queue, {});
        }
        qsizetype i = 0;
        while (i < items.size()) {
            if (!items.at(i).push) {
                items[i].job();
                ++i;
                continue;
            }
            QList<PushRequest> batch;
            QList<std::function<void(const PushOutcome &)>> callbacks;
            while (i < items.size() && items.at(i).push && batch.size() < m_maxBatch) {
                batch.append(std::move(*items[i].push));
                callbacks.append(std::move(items[i].pushDone));
                ++i;
            }
            const QList<PushOutcome> outcomes = m_writer->commitPushes(batch);
            deliver([callbacks = std::move(callbacks), outcomes] {
                for (qsizetype k = 0; k < callbacks.size(); ++k)
                    callbacks.at(k)(outcomes.at(k));
            });
        }
    }
}

void WriterThread::deliver(std::function<void()> callback)
{
    if (m_inlineHost) {
        // The writer runs in the delivery thread: answers go out at once, as the commit's
        // own continuation (work they queue is picked up by the drain loop around this).
        callback();
        return;
    }
    QMutexLocker locker(&m_doneLock);
    m_done.append(std::move(callback));
    if (!m_deliveryPosted) {
        m_deliveryPosted = true;
        // Dropped with m_delivery when this is destroyed first (deliverNow() ran then).
        QMetaObject::invokeMethod(
            &m_delivery, [this] { deliverNow(); }, Qt::QueuedConnection);
    }
}

void WriterThread::deliverNow()
{
    QList<std::function<void()>> done;
    {
        QMutexLocker locker(&m_doneLock);
        done = std::exchange(m_done, {});
        m_deliveryPosted = false;
    }
    for (const auto &callback : std::as_const(done))
        callback();
}

void WriterThread::waitForIdle()
{
    runAndWait([] {});
    deliverNow();
}

} // namespace agmem
