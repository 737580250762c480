#include "eventhub.h"

#include "platform.h"

#include "core/jsonwriter.h"
#include "core/logging.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutexLocker>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QTcpSocket>
#include <QVarLengthArray>
#include <QtEndian>

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace agmem {

namespace {

// Walks two lists sorted by CodePointLess: calls onlyA / onlyB for items in one list only,
// both(a, b) for items with the same key. One three-way comparison per step.
template <typename T, typename Key, typename OnlyA, typename OnlyB, typename Both>
void sortedDiff(const QList<T> &a, const QList<T> &b, Key key, OnlyA onlyA, OnlyB onlyB, Both both)
{
    auto i = a.cbegin();
    auto j = b.cbegin();
    while (i != a.cend() && j != b.cend()) {
        const int order = compareCodePoints(key(*i), key(*j));
        if (order < 0)
            onlyA(*i++);
        else if (order > 0)
            onlyB(*j++);
        else
            both(*i++, *j++);
    }
    for (; i != a.cend(); ++i)
        onlyA(*i);
    for (; j != b.cend(); ++j)
        onlyB(*j);
}

// Appends to a QByteArray through a pointer, with room made ahead and the array cut to what
// was written when done: each QByteArray::append() is a call with its checks (about 110
// instructions in Qt 6.4), and a frame took some 20 of them.
class Cursor
{
public:
    Cursor(QByteArray *out, qsizetype room)
        : m_out(out)
    {
        const qsizetype used = out->size();
        out->resize(used + room);
        m_p = out->data() + used;
        m_end = out->data() + out->size();
    }
    ~Cursor() { m_out->resize(offset()); }
    Cursor(const Cursor &) = delete;
    Cursor &operator=(const Cursor &) = delete;

    // Bytes in the array so far.
    qsizetype offset() const { return m_p - m_out->constData(); }
    void put(char c)
    {
        need(1);
        *m_p++ = c;
    }
    void put(QByteArrayView bytes)
    {
        need(bytes.size());
        std::memcpy(m_p, bytes.data(), size_t(bytes.size()));
        m_p += bytes.size();
    }
    void put(const char *text) { put(QByteArrayView(text, qsizetype(std::strlen(text)))); }
    // A literal: its size known here, the copy inlined (a call to put() cost ~35
    // instructions, a dozen times per frame).
    template <qsizetype N>
    void lit(const char (&text)[N])
    {
        need(N - 1);
        std::memcpy(m_p, text, N - 1);
        m_p += N - 1;
    }
    void number(qint64 value)
    {
        need(24);
        m_p = std::to_chars(m_p, m_end, value).ptr;
    }
    void number(quint64 value)
    {
        need(24);
        m_p = std::to_chars(m_p, m_end, value).ptr;
    }
    // JsonWriter::appendString()'s text: ASCII that needs no escape copied here, anything
    // else through JsonWriter.
    void string(QStringView text)
    {
        need(text.size() + 2);
        char *d = m_p;
        *d++ = '"';
        const char16_t *u = text.utf16();
        for (qsizetype i = 0, n = text.size(); i < n; ++i) {
            const char16_t c = u[i];
            if (c >= 0x80 || c < 0x20 || c == u'"' || c == u'\\') {
                m_out->resize(m_p - m_out->constData());
                JsonWriter::appendString(m_out, text);
                m_p = m_out->data() + m_out->size();
                m_end = m_p;
                return;
            }
            *d++ = char(c);
        }
        *d++ = '"';
        m_p = d;
    }
    void timestamp(Instant instant);

private:
    // timestamp() without the cache; room made.
    void writeTimestamp(Instant instant);
    void need(qsizetype size)
    {
        if (m_end - m_p < size) [[unlikely]]
            grow(size);
    }
    Q_NEVER_INLINE void grow(qsizetype size)
    {
        const qsizetype used = m_p - m_out->constData();
        m_out->resize(used + qMax(size, used / 2 + 256));
        m_p = m_out->data() + used;
        m_end = m_out->data() + m_out->size();
    }

    QByteArray *m_out;
    char *m_p;
    char *m_end;
};

// JsonWriter::appendTimestamp(): formatIsoTimestamp(instant) as a JSON string. The date part
// (the same for nearly every event) is kept from this thread's previous calls; the time of
// day is written here. tst_events compares the text with formatIsoTimestamp()'s.
void Cursor::timestamp(Instant instant)
{
    need(IsoTimestampMaxSize + 2);
    // The last two instants written on this thread, as written: events of one batch often
    // arrived in the same millisecond (received_at), between their own timestamps.
    struct Recent
    {
        Instant instant = std::numeric_limits<Instant>::min();
        char text[IsoTimestampMaxSize + 2];
        int size = 0;
    };
    thread_local Recent recent[2];
    thread_local int older = 0;
    for (int i = 0; i < 2; ++i) {
        if (recent[i].instant == instant) {
            std::memcpy(m_p, recent[i].text, size_t(recent[i].size));
            m_p += recent[i].size;
            older = i ^ 1;
            return;
        }
    }
    const char *const begin = m_p;
    writeTimestamp(instant);
    Recent &r = recent[older];
    r.instant = instant;
    r.size = int(m_p - begin);
    std::memcpy(r.text, begin, size_t(r.size));
    older ^= 1;
}

void Cursor::writeTimestamp(Instant instant)
{
    constexpr qint64 MicrosPerSecond = 1000000;
    constexpr qint64 MicrosPerDay = 86400 * MicrosPerSecond;
    qint64 day = instant / MicrosPerDay;
    qint64 rest = instant % MicrosPerDay;
    if (rest < 0) {
        rest += MicrosPerDay;
        --day;
    }
    // Years 1..9999 and a good deal around them; beyond, formatIsoTimestamp() as it is.
    if (day < -1000000 || day > 10000000) {
        *m_p++ = '"';
        m_p += formatIsoTimestamp(instant, m_p);
        *m_p++ = '"';
        return;
    }
    struct Date
    {
        qint64 day = std::numeric_limits<qint64>::min();
        // "YYYY-MM-DDT", opening quote included.
        char text[IsoTimestampMaxSize + 1];
        int size = 0;
    };
    // Two: a push's own timestamp and its arrival are often on different days.
    thread_local Date dates[2];
    thread_local int older = 0;
    Date *found = dates[0].day == day ? &dates[0] : dates[1].day == day ? &dates[1] : nullptr;
    if (found) {
        older = found == &dates[0] ? 1 : 0;
    } else {
        found = &dates[older];
        older ^= 1;
        char text[IsoTimestampMaxSize];
        const int size = formatIsoTimestamp(day * MicrosPerDay, text);
        const char *t = std::find(text, text + size, 'T');
        found->text[0] = '"';
        found->size = int(t - text) + 2;
        std::memcpy(found->text + 1, text, size_t(found->size - 1));
        found->day = day;
    }
    const Date &date = *found;
    char *p = m_p;
    std::memcpy(p, date.text, size_t(date.size));
    p += date.size;
    const int second = int(rest / MicrosPerSecond);
    const int micros = int(rest % MicrosPerSecond);
    const auto two = [&p](int value) {
        *p++ = char('0' + value / 10);
        *p++ = char('0' + value % 10);
    };
    two(second / 3600);
    *p++ = ':';
    two(second / 60 % 60);
    *p++ = ':';
    two(second % 60);
    if (micros != 0) {
        *p++ = '.';
        for (int i = 5, m = micros; i >= 0; --i, m /= 10)
            p[i] = char('0' + m % 10);
        p += 6;
    }
    for (const char c : {'+', '0', '0', ':', '0', '0', '"'})
        *p++ = c;
    m_p = p;
}

// A push's topic deltas and fact changes as pointers into the contributions (a pending
// event) or into the event's own lists: formatting a frame copies no string and allocates
// no list for them (resolving them into the event's lists did, about 1 000 instructions a
// push in QList growth alone).
struct DiffView
{
    QVarLengthArray<QPair<const QString *, qint64>, 16> deltas;
    QVarLengthArray<const QString *, 16> added;
    QVarLengthArray<const QString *, 16> removed;
    qint64 addedCount = 0;
    qint64 removedCount = 0;

    // What `e` tells: its pending contributions' difference, else its lists.
    explicit DiffView(const ChangeEvent &e);
};

DiffView::DiffView(const ChangeEvent &e)
{
    if (!e.diffPending) {
        for (const auto &[topic, delta] : e.topicDeltas)
            deltas.append({&topic, delta});
        for (const QString &f : e.factsAdded)
            added.append(&f);
        for (const QString &f : e.factsRemoved)
            removed.append(&f);
        addedCount = e.factsAddedCount;
        removedCount = e.factsRemovedCount;
        return;
    }
    if (!e.diffAfter)
        return;
    static const QList<QPair<QString, qint64>> noTopics;
    static const QStringList noFacts;
    const Contribution &after = *e.diffAfter;
    const auto &oldTopics = e.diffBefore ? e.diffBefore->topics : noTopics;
    const auto topicKey = [](const QPair<QString, qint64> &p) -> const QString & {
        return p.first;
    };
    sortedDiff(
        oldTopics, after.topics, topicKey,
        [this](const QPair<QString, qint64> &gone) {
            if (gone.second != 0)
                deltas.append({&gone.first, -gone.second});
        },
        [this](const QPair<QString, qint64> &now) {
            if (now.second != 0)
                deltas.append({&now.first, now.second});
        },
        [this](const QPair<QString, qint64> &was, const QPair<QString, qint64> &now) {
            if (now.second != was.second)
                deltas.append({&now.first, now.second - was.second});
        });
    const QStringList &oldFacts = e.diffBefore ? e.diffBefore->facts : noFacts;
    const auto factKey = [](const QString &f) -> const QString & { return f; };
    sortedDiff(
        oldFacts, after.facts, factKey,
        [this](const QString &gone) {
            if (++removedCount <= ChangeEvent::MaxListedFacts)
                removed.append(&gone);
        },
        [this](const QString &fact) {
            if (++addedCount <= ChangeEvent::MaxListedFacts)
                added.append(&fact);
        },
        [](const QString &, const QString &) {});
}

// Where the values of a frame begin (FrameLayout), as Cursor offsets.
struct Marks
{
    qsizetype at[FrameLayout::MaxMarks];
    int count = 0;
};

// The event's JSON object (ChangeEvent::appendJson()), its deltas and facts from `d`; where
// each value begins is added to `marks`.
void writeJson(Cursor &c, const ChangeEvent &e, const DiffView &d, Marks &marks)
{
    // Written straight into the frame (a QJsonObject tree cost about a third of a push's
    // instructions while a stream was open), the keys as literals with their separators.
    // The keys come in QJsonObject's order (sorted), so the text is the same as
    // QJsonDocument's.
    using Kind = ChangeEvent::Kind;
    bool first = true;
    // `key`: ,"name": (the comma left out for the first).
    const auto key = [&c, &first]<qsizetype N>(const char(&key)[N]) {
        if (first)
            c.put(QByteArrayView(key + 1, N - 2));
        else
            c.lit(key);
        first = false;
    };
    const auto list = [&c](const QVarLengthArray<const QString *, 16> &items) {
        c.put('[');
        for (qsizetype i = 0; i < items.size(); ++i) {
            if (i > 0)
                c.put(',');
            c.string(*items.at(i));
        }
        c.put(']');
    };
    const auto flag = [&c](bool value) {
        if (value)
            c.lit("true");
        else
            c.lit("false");
    };
    // Before each value that varies from event to event.
    const auto mark = [&c, &marks] {
        if (marks.count < FrameLayout::MaxMarks)
            marks.at[marks.count++] = c.offset();
    };
    const bool push = e.kind == Kind::Push;
    c.put('{');
    if (e.kind != Kind::Reset) {
        key(",\"agent_id\":");
        mark();
        c.string(e.agentId);
    }
    if (e.receivedAt && !push) {
        key(",\"at\":");
        mark();
        c.timestamp(e.receivedAt);
    }
    if (push) {
        key(",\"changed\":");
        mark();
        flag(e.changesMerge);
        c.lit(",\"facts_added\":");
        mark();
        list(d.added);
        c.lit(",\"facts_added_count\":");
        mark();
        c.number(d.addedCount);
        c.lit(",\"facts_removed\":");
        mark();
        list(d.removed);
        c.lit(",\"facts_removed_count\":");
        mark();
        c.number(d.removedCount);
    }
    key(",\"local\":");
    mark();
    flag(e.local);
    if (e.receivedAt && push) {
        c.lit(",\"received_at\":");
        mark();
        c.timestamp(e.receivedAt);
    }
    c.lit(",\"sequence\":");
    mark();
    c.number(qint64(e.sequence));
    if (push) {
        c.lit(",\"timestamp\":");
        mark();
        if (e.timestamp)
            c.timestamp(e.timestamp);
        else
            c.lit("null");
        c.lit(",\"topic_deltas\":{");
        mark();
        // QJsonObject orders keys by UTF-16 code unit. push() gives the deltas in code point
        // order, the same unless topics hold characters from U+E000 on beside ones beyond
        // U+FFFF: only then are they sorted again (in a copy).
        using Delta = QPair<const QString *, qint64>;
        const auto utf16Less = [](const Delta &x, const Delta &y) { return *x.first < *y.first; };
        const auto writeDeltas = [&c](const Delta *begin, const Delta *end) {
            for (const Delta *it = begin; it != end; ++it) {
                if (it != begin)
                    c.put(',');
                c.string(*it->first);
                c.put(':');
                c.number(it->second);
            }
        };
        if (std::is_sorted(d.deltas.cbegin(), d.deltas.cend(), utf16Less)) {
            writeDeltas(d.deltas.cbegin(), d.deltas.cend());
        } else {
            QVarLengthArray<Delta, 16> deltas = d.deltas;
            std::sort(deltas.begin(), deltas.end(), utf16Less);
            writeDeltas(deltas.cbegin(), deltas.cend());
        }
        c.put('}');
    }
    // The type names need no escapes.
    switch (e.kind) {
    case Kind::Push:
        c.lit(",\"type\":\"push\"}");
        break;
    case Kind::AgentRemoved:
        c.lit(",\"type\":\"agent_removed\"}");
        break;
    case Kind::Reset:
        c.lit(",\"type\":\"reset\"}");
        break;
    }
}

// Room for an event's JSON, enough unless its strings need escapes or are not ASCII.
qsizetype jsonRoom(const ChangeEvent &e, const DiffView &d)
{
    qsizetype room = 360 + e.agentId.size();
    for (const QString *f : d.added)
        room += f->size() + 3;
    for (const QString *f : d.removed)
        room += f->size() + 3;
    for (const auto &[topic, delta] : d.deltas)
        room += topic->size() + 24;
    return room;
}

} // namespace

ChangeEvent ChangeEvent::push(const QString &agentId, const std::optional<Contribution> &before,
                              const std::optional<Contribution> &after, Instant timestamp,
                              Instant receivedAt, quint64 sequence)
{
    ChangeEvent e;
    e.kind = Kind::Push;
    e.agentId = agentId;
    e.timestamp = timestamp;
    e.receivedAt = receivedAt;
    e.sequence = sequence;
    e.changesMerge = after.has_value();
    if (!after)
        return e;
    e.diffBefore = before;
    e.diffAfter = after;
    e.diffPending = true;
    return e;
}

void ChangeEvent::resolveDiff()
{
    if (!diffPending)
        return;
    {
        const DiffView d(*this);
        topicDeltas.reserve(d.deltas.size());
        for (const auto &[topic, delta] : d.deltas)
            topicDeltas.append({*topic, delta});
        factsAdded.reserve(d.added.size());
        for (const QString *f : d.added)
            factsAdded.append(*f);
        factsRemoved.reserve(d.removed.size());
        for (const QString *f : d.removed)
            factsRemoved.append(*f);
        factsAddedCount = d.addedCount;
        factsRemovedCount = d.removedCount;
    }
    diffPending = false;
    diffBefore.reset();
    diffAfter.reset();
}

ChangeEvent ChangeEvent::agentRemoved(const QString &agentId, quint64 sequence)
{
    ChangeEvent e;
    e.kind = Kind::AgentRemoved;
    e.agentId = agentId;
    e.sequence = sequence;
    e.receivedAt = nowInstant();
    return e;
}

ChangeEvent ChangeEvent::reset(quint64 sequence)
{
    ChangeEvent e;
    e.kind = Kind::Reset;
    e.sequence = sequence;
    e.receivedAt = nowInstant();
    return e;
}

const char *ChangeEvent::typeKey() const
{
    switch (kind) {
    case Kind::Push:
        return "push";
    case Kind::AgentRemoved:
        return "agent_removed";
    case Kind::Reset:
        return "reset";
    }
    return "";
}

QString ChangeEvent::typeName() const
{
    return QString::fromLatin1(typeKey());
}

QByteArray ChangeEvent::json() const
{
    QByteArray out;
    appendJson(&out);
    return out;
}

void ChangeEvent::appendJson(QByteArray *out) const
{
    const DiffView d(*this);
    Cursor c(out, jsonRoom(*this, d));
    Marks marks;
    writeJson(c, *this, d, marks);
}

EventHub::EventHub(int ringSize, QObject *parent)
    : QObject(parent)
    , m_ringSize(qMax(1, ringSize))
    , m_token(QByteArray::number(QRandomGenerator::system()->generate64() & 0xffffffffffff, 16))
{}

void EventHub::setSequence(quint64 sequence)
{
    QMutexLocker lock(&m_mutex);
    m_sequence = sequence;
}

quint64 EventHub::sequence() const
{
    QMutexLocker lock(&m_mutex);
    return m_sequence;
}

QByteArray EventHub::idOf(quint64 number) const
{
    QByteArray id;
    appendId(&id, number);
    return id;
}

void EventHub::appendId(QByteArray *out, quint64 number) const
{
    char digits[24];
    const std::to_chars_result r = std::to_chars(digits, digits + sizeof digits, number);
    out->append(m_token).append('-').append(digits, r.ptr - digits);
}

void EventHub::publish(QList<ChangeEvent> events)
{
    if (events.isEmpty())
        return;
    {
        QMutexLocker lock(&m_mutex);
        for (ChangeEvent &e : events) {
            if (e.sequence > m_sequence || e.kind == ChangeEvent::Kind::Reset)
                m_sequence = e.sequence;
            m_ring.push_back({m_next++, std::move(e), {}, 0, 0, {}});
        }
        while (m_ring.size() > size_t(m_ringSize))
            m_ring.pop_front();
    }
    Q_EMIT published();
}

QByteArray EventHub::helloFrame(bool resumed) const
{
    const QJsonObject o{{QStringLiteral("type"), QStringLiteral("hello")},
                        {QStringLiteral("sequence"), qint64(m_sequence)},
                        {QStringLiteral("resumed"), resumed},
                        {QStringLiteral("at"), formatIsoTimestamp(nowInstant())}};
    QByteArray frame("retry: 2000\n");
    // A resumed stream keeps the client's place; a new one starts at the newest event.
    if (!resumed)
        frame.append("id: ").append(idOf(m_next - 1)).append('\n');
    frame.append("event: hello\ndata: ")
        .append(QJsonDocument(o).toJson(QJsonDocument::Compact))
        .append("\n\n");
    return frame;
}

QByteArray EventHub::reloadFrame(const QString &reason) const
{
    const QJsonObject o{{QStringLiteral("type"), QStringLiteral("reload")},
                        {QStringLiteral("sequence"), qint64(m_sequence)},
                        {QStringLiteral("reason"), reason}};
    return "id: " + idOf(m_next - 1) +
           "\nevent: reload\ndata: " + QJsonDocument(o).toJson(QJsonDocument::Compact) + "\n\n";
}

void EventHub::formatFrames(std::deque<Stored>::const_iterator first,
                            std::deque<Stored>::const_iterator last) const
{
    qsizetype missing = 0;
    for (auto it = first; it != last; ++it)
        missing += it->chunk.isNull() ? 1 : 0;
    if (missing == 0)
        return;
    QByteArray chunk;
    {
        Cursor c(&chunk, missing * 512);
        for (auto it = first; it != last; ++it) {
            if (!it->chunk.isNull())
                continue;
            // The JSON goes straight into the frame, a pending event's deltas straight from
            // its contributions.
            const ChangeEvent &e = it->event;
            const DiffView d(e);
            const qsizetype from = c.offset();
            it->from = from;
            Marks marks;
            c.lit("id: ");
            c.put(QByteArrayView(m_token));
            c.put('-');
            marks.at[marks.count++] = c.offset();
            c.number(it->number);
            c.lit("\nevent: ");
            c.put(e.typeKey());
            c.lit("\ndata: ");
            writeJson(c, e, d, marks);
            c.lit("\n\n");
            it->size = c.offset() - from;
            // Marks are 16 bits: a frame beyond 64 KiB is one value.
            FrameLayout &layout = it->layout;
            layout.size = quint32(it->size);
            layout.count = it->size <= 0xffff ? quint8(marks.count) : 0;
            for (int k = 0; k < layout.count; ++k)
                layout.marks[k] = quint16(marks.at[k] - from);
        }
    }
    for (auto it = first; it != last; ++it) {
        if (it->chunk.isNull())
            it->chunk = chunk; // shared
    }
}

EventHub::Resume EventHub::sinceLocked(quint64 after, bool layouts) const
{
    Resume r;
    r.last = m_next - 1;
    if (after >= r.last)
        return r;
    const quint64 oldest = m_ring.empty() ? m_next : m_ring.front().number;
    if (after + 1 < oldest) {
        r.frames = reloadFrame(QStringLiteral("events were missed: read the state again"));
        if (layouts) {
            FrameLayout layout;
            layout.size = quint32(r.frames.size());
            r.layouts.append(layout);
        }
        return r;
    }
    const auto first = m_ring.cbegin() + qsizetype(after + 1 - oldest);
    formatFrames(first, m_ring.cend());
    if (layouts) {
        r.layouts.reserve(qsizetype(m_ring.cend() - first));
        for (auto it = first; it != m_ring.cend(); ++it)
            r.layouts.append(it->layout);
    }
    // The frames are one chunk exactly (every stream stood before the batch): shared.
    bool oneChunk = first->from == 0;
    qsizetype size = 0;
    for (auto it = first; it != m_ring.cend(); ++it) {
        oneChunk = oneChunk && it->chunk.constData() == first->chunk.constData();
        size += it->size;
    }
    if (oneChunk && size == first->chunk.size()) {
        r.frames = first->chunk;
        return r;
    }
    r.frames.reserve(size);
    for (auto it = first; it != m_ring.cend(); ++it)
        r.frames.append(it->frame());
    return r;
}

EventHub::Resume EventHub::open(const QByteArray &lastEventId) const
{
    QMutexLocker lock(&m_mutex);
    const QByteArray id = lastEventId.trimmed();
    if (id.isEmpty()) {
        Resume r;
        r.frames = helloFrame(false);
        r.last = m_next - 1;
        return r;
    }
    bool ok = false;
    const qsizetype dash = id.lastIndexOf('-');
    const quint64 number = dash > 0 ? id.mid(dash + 1).toULongLong(&ok) : 0;
    if (!ok || id.left(dash) != m_token || number >= m_next) {
        Resume r;
        r.frames = helloFrame(false) +
                   reloadFrame(QStringLiteral("the event id is unknown here (another server, or a "
                                              "restart): read the state again"));
        r.last = m_next - 1;
        return r;
    }
    Resume r = sinceLocked(number, false);
    r.frames.prepend(helloFrame(true));
    return r;
}

EventHub::Resume EventHub::since(quint64 after, bool layouts) const
{
    QMutexLocker lock(&m_mutex);
    return sinceLocked(after, layouts);
}

namespace {

constexpr QByteArrayView Heartbeat(": keep-alive\n\n");
// RFC 1952: deflate, no name, no time, unknown OS. No trailer follows: the stream ends
// with the connection, as the plain one does.
constexpr QByteArrayView GzipHeader("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);

} // namespace

namespace {

// Deflate's tables (RFC 1951, 3.2.5): the symbol of each match length and of each distance,
// with their extra bits.
struct DeflateTables
{
    struct Symbol
    {
        quint16 symbol = 0; // length: 0..28 (257 + it); distance: 0..29
        quint8 extraCount = 0;
        quint16 extra = 0;
    };
    // Per match length 3..258.
    Symbol length[259];
    // Per distance code's index: distances 1..256 at [distance - 1], longer ones at
    // [256 + (distance - 1) / 128] (extra: the bits above 7, filled in by the caller).
    quint8 distanceCode[512];
    quint8 distanceExtra[30];
    quint16 distanceBase[30];

    DeflateTables()
    {
        static constexpr int Base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                         15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                         67, 83, 99, 115, 131, 163, 195, 227, 258};
        static constexpr int Extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                          2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
        for (int code = 0; code < 29; ++code) {
            const int end = code == 28 ? 259 : Base[code + 1];
            for (int n = Base[code]; n < end; ++n)
                length[n] = {quint16(code), quint8(Extra[code]), quint16(n - Base[code])};
        }
        for (int code = 0; code < 30; ++code) {
            distanceExtra[code] = quint8(code < 4 ? 0 : code / 2 - 1);
            distanceBase[code] =
                quint16(code < 4 ? code : (2 + (code & 1)) << distanceExtra[code]); // minus 1
        }
        const auto codeOf = [](quint32 d) {
            if (d < 4)
                return int(d);
            const int top = 31 - int(qCountLeadingZeroBits(d));
            return 2 * top + int((d >> (top - 1)) & 1);
        };
        for (quint32 i = 0; i < 512; ++i)
            distanceCode[i] = quint8(codeOf(i < 256 ? i : (i - 256) * 128));
    }
};

const DeflateTables &deflateTables()
{
    static const DeflateTables tables;
    return tables;
}

// A Huffman code of one alphabet: lengths (at most MaxBits) and codes, bit-reversed for
// writing LSB first.
template <int Size>
struct HuffmanCode
{
    quint8 length[Size] = {};
    quint16 code[Size] = {};

    // Canonical codes for `length` (RFC 1951, 3.2.2).
    void assignCodes()
    {
        int count[16] = {};
        for (int s = 0; s < Size; ++s)
            ++count[length[s]];
        count[0] = 0;
        int next[16] = {};
        for (int bits = 1, c = 0; bits < 16; ++bits) {
            c = (c + count[bits - 1]) << 1;
            next[bits] = c;
        }
        for (int s = 0; s < Size; ++s) {
            const int n = length[s];
            if (n == 0)
                continue;
            quint32 c = quint32(next[n]++);
            quint32 r = 0;
            for (int i = 0; i < n; ++i, c >>= 1)
                r = (r << 1) | (c & 1);
            code[s] = quint16(r);
        }
    }

    // Lengths of an optimal code for `freq` (at least two symbols get one), then limited to
    // maxBits the way miniz does: lengths moved down until the code is complete again, the
    // longest to the rarest symbols.
    void build(const quint32 *freq, int maxBits)
    {
        struct Node
        {
            quint32 weight;
            int symbol;
        };
        Node leaves[Size];
        int n = 0;
        for (int s = 0; s < Size; ++s) {
            length[s] = 0;
            if (freq[s] > 0)
                leaves[n++] = {freq[s], s};
        }
        for (int s = 0; n < 2 && s < Size; ++s) {
            if (freq[s] == 0)
                leaves[n++] = {1, s};
        }
        std::sort(leaves, leaves + n, [](const Node &a, const Node &b) {
            return a.weight < b.weight || (a.weight == b.weight && a.symbol < b.symbol);
        });
        // Two queues (leaves sorted, inner nodes made in order): each inner node's parent.
        quint32 weight[2 * Size];
        int parent[2 * Size];
        for (int i = 0; i < n; ++i)
            weight[i] = leaves[i].weight;
        int leaf = 0;
        int inner = n;
        int made = n;
        const auto take = [&]() {
            if (leaf < n && (inner >= made || weight[leaf] <= weight[inner]))
                return leaf++;
            return inner++;
        };
        while (made < 2 * n - 1) {
            const int a = take();
            const int b = take();
            weight[made] = weight[a] + weight[b];
            parent[a] = made;
            parent[b] = made;
            ++made;
        }
        // Depths: the root is the last node made.
        int depth[2 * Size];
        depth[made - 1] = 0;
        for (int i = made - 2; i >= 0; --i)
            depth[i] = depth[parent[i]] + 1;
        int count[33] = {};
        for (int i = 0; i < n; ++i)
            ++count[qMin(depth[i], 32)];
        for (int bits = maxBits + 1; bits <= 32; ++bits) {
            count[maxBits] += count[bits];
            count[bits] = 0;
        }
        quint32 total = 0;
        for (int bits = maxBits; bits > 0; --bits)
            total += quint32(count[bits]) << (maxBits - bits);
        while (total != (1u << maxBits)) {
            --count[maxBits];
            for (int bits = maxBits - 1; bits > 0; --bits) {
                if (count[bits] > 0) {
                    --count[bits];
                    count[bits + 1] += 2;
                    break;
                }
            }
            --total;
        }
        // The rarest symbols (first in `leaves`) get the longest codes.
        int i = 0;
        for (int bits = maxBits; bits > 0; --bits) {
            for (int c = 0; c < count[bits]; ++c)
                length[leaves[i++].symbol] = quint8(bits);
        }
        assignCodes();
    }
};

// The deflate encoder of FrameDeflate::piece(): matches and literals found by comparing
// frames, gathered first, then written as one block with the codes that suit them best
// (deflate's fixed codes or codes of their own).
class FrameEncoder
{
public:
    static constexpr qsizetype Window = 32768;
    static constexpr qsizetype MinMatch = 3;
    static constexpr qsizetype MaxMatch = 258;

    explicit FrameEncoder(QByteArrayView in)
        : m_in(in.data())
        , m_size(in.size())
        , m_tables(deflateTables())
    {
        m_tokens.reserve(in.size() / 8 + 16);
    }

    // Input bytes [from, to) as literals.
    void literals(qsizetype from, qsizetype to)
    {
        if (from >= to)
            return;
        flushMatch();
        for (qsizetype i = from; i < to; ++i) {
            const uchar c = uchar(m_in[i]);
            ++m_litFreq[c];
            m_tokens.push_back(c);
        }
    }
    // Input bytes [at, at + length) repeat those `distance` before them.
    void match(qsizetype at, qsizetype length, qsizetype distance)
    {
        if (length < MinMatch || distance > Window) {
            literals(at, at + length);
            return;
        }
        if (m_matchLength > 0 && m_matchDistance == distance && m_matchEnd == at) {
            m_matchLength += length;
        } else {
            flushMatch();
            m_matchLength = length;
            m_matchDistance = distance;
        }
        m_matchEnd = at + length;
    }
    // The frame [start, start + layout.size) against the earlier one at `prev` with as many
    // marks: the same bytes as far as they go (across values), then from where they differ
    // to the end of that value literally, except for the value's common end.
    void frame(qsizetype start, const FrameLayout &layout, qsizetype prev,
               const FrameLayout &prevLayout)
    {
        const qsizetype end = start + layout.size;
        const qsizetype prevEnd = prev + prevLayout.size;
        const int count = qMin(int(layout.count), FrameLayout::MaxMarks);
        const int prevCount = qMin(int(prevLayout.count), FrameLayout::MaxMarks);
        qsizetype at = start;
        qsizetype prevAt = prev;
        int k = 0;
        while (at < end) {
            const qsizetype head = commonPrefix(at, prevAt, qMin(end - at, prevEnd - prevAt));
            match(at, head, at - prevAt);
            at += head;
            prevAt += head;
            if (at >= end)
                break;
            // The value `at` is in, and where it ends in both frames.
            while (k < count && start + layout.marks[k] <= at)
                ++k;
            // (Marks beyond a frame's end only make the match shorter.)
            const qsizetype to = k < count ? qMin(start + layout.marks[k], end) : end;
            const qsizetype prevTo =
                k < prevCount ? qMin(prev + prevLayout.marks[k], prevEnd) : prevEnd;
            const qsizetype tail =
                prevTo > prevAt ? commonSuffix(to, prevTo, qMin(to - at, prevTo - prevAt)) : 0;
            literals(at, to - tail);
            match(to - tail, tail, to - prevTo);
            at = to;
            prevAt = prevTo;
        }
    }

    // The block: a header (BFINAL 0), the tokens, the end of block, then an empty stored
    // block (a sync flush: byte-aligned).
    QByteArray finish()
    {
        flushMatch();
        ++m_litFreq[256];
        // What the data costs in each: fixed codes, or codes of their own (plus the header).
        quint64 extraBits = 0;
        for (int s = 0; s < 29; ++s)
            extraBits += quint64(m_litFreq[257 + s]) * lengthExtra(s);
        for (int s = 0; s < 30; ++s)
            extraBits += quint64(m_distFreq[s]) * m_tables.distanceExtra[s];
        HuffmanCode<286> lit;
        HuffmanCode<30> dist;
        lit.build(m_litFreq, 15);
        dist.build(m_distFreq, 15);
        quint64 dynamicBits = extraBits;
        quint64 fixedBits = extraBits;
        for (int s = 0; s < 286; ++s) {
            dynamicBits += quint64(m_litFreq[s]) * lit.length[s];
            fixedBits += quint64(m_litFreq[s]) * (s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8);
        }
        for (int s = 0; s < 30; ++s) {
            dynamicBits += quint64(m_distFreq[s]) * dist.length[s];
            fixedBits += quint64(m_distFreq[s]) * 5;
        }
        Header header;
        header.make(lit, dist);
        dynamicBits += header.bits;
        const bool dynamic = dynamicBits < fixedBits;
        QByteArray out;
        out.resize(qsizetype(qMin(dynamicBits, fixedBits) / 8) + 32);
        m_out = out.data();
        if (dynamic) {
            bits(0b100, 3); // BFINAL 0, BTYPE 10: codes of its own
            header.write(*this);
        } else {
            bits(0b010, 3); // BFINAL 0, BTYPE 01: fixed codes
            for (int s = 0; s < 286; ++s) {
                lit.length[s] = quint8(s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8);
            }
            for (int s = 0; s < 30; ++s)
                dist.length[s] = 5;
            lit.assignCodes();
            dist.assignCodes();
        }
        for (const quint32 token : m_tokens) {
            if (token < 256) {
                bits(lit.code[token], lit.length[token]);
                continue;
            }
            const int length = int(token >> 16);
            const quint32 d = token & 0xffff; // distance - 1
            const DeflateTables::Symbol &l = m_tables.length[length];
            bits(lit.code[257 + l.symbol] | (quint32(l.extra) << lit.length[257 + l.symbol]),
                 lit.length[257 + l.symbol] + l.extraCount);
            const int dc = m_tables.distanceCode[d < 256 ? d : 256 + (d >> 7)];
            bits(dist.code[dc] | (quint64(d - m_tables.distanceBase[dc]) << dist.length[dc]),
                 dist.length[dc] + m_tables.distanceExtra[dc]);
        }
        bits(lit.code[256], lit.length[256]);
        bits(0, 3);
        while (m_count > 0) {
            *m_out++ = char(m_acc & 0xff);
            m_acc >>= 8;
            m_count -= 8;
        }
        for (const char c : {'\x00', '\x00', '\xff', '\xff'})
            *m_out++ = c;
        out.resize(m_out - out.constData());
        return out;
    }

private:
    static int lengthExtra(int symbol) { return symbol < 8 || symbol == 28 ? 0 : symbol / 4 - 1; }

    // A dynamic block's header: the code lengths, run-length coded (16: repeat the last 3-6
    // times, 17: 3-10 zeros, 18: 11-138 zeros) with a code of their own.
    struct Header
    {
        static constexpr int Order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                          11, 4,  12, 3, 13, 2, 14, 1, 15};
        int lits = 257;
        int dists = 1;
        int codeLengths = 4;
        // Run-length coded lengths: symbol | extra value << 8.
        quint16 runs[286 + 30];
        int runCount = 0;
        HuffmanCode<19> code;
        quint64 bits = 0;

        void make(const HuffmanCode<286> &lit, const HuffmanCode<30> &dist)
        {
            lits = 286;
            while (lits > 257 && lit.length[lits - 1] == 0)
                --lits;
            dists = 30;
            while (dists > 1 && dist.length[dists - 1] == 0)
                --dists;
            quint8 all[286 + 30];
            std::memcpy(all, lit.length, size_t(lits));
            std::memcpy(all + lits, dist.length, size_t(dists));
            const int n = lits + dists;
            quint32 freq[19] = {};
            for (int i = 0; i < n;) {
                const quint8 v = all[i];
                int run = 1;
                while (i + run < n && all[i + run] == v)
                    ++run;
                i += run;
                if (v == 0) {
                    while (run >= 11) {
                        const int r = qMin(run, 138);
                        runs[runCount++] = quint16(18 | (r - 11) << 8);
                        run -= r;
                    }
                    if (run >= 3) {
                        runs[runCount++] = quint16(17 | (run - 3) << 8);
                        run = 0;
                    }
                } else {
                    runs[runCount++] = v;
                    --run;
                    while (run >= 3) {
                        const int r = qMin(run, 6);
                        runs[runCount++] = quint16(16 | (r - 3) << 8);
                        run -= r;
                    }
                }
                for (; run > 0; --run)
                    runs[runCount++] = v;
            }
            for (int i = 0; i < runCount; ++i)
                ++freq[runs[i] & 0xff];
            code.build(freq, 7);
            codeLengths = 19;
            while (codeLengths > 4 && code.length[Order[codeLengths - 1]] == 0)
                --codeLengths;
            bits = 5 + 5 + 4 + 3 * quint64(codeLengths);
            for (int i = 0; i < runCount; ++i) {
                const int s = runs[i] & 0xff;
                bits += code.length[s] + (s == 16 ? 2 : s == 17 ? 3 : s == 18 ? 7 : 0);
            }
        }
        void write(FrameEncoder &e) const
        {
            e.bits(quint64(lits - 257), 5);
            e.bits(quint64(dists - 1), 5);
            e.bits(quint64(codeLengths - 4), 4);
            for (int i = 0; i < codeLengths; ++i)
                e.bits(code.length[Order[i]], 3);
            for (int i = 0; i < runCount; ++i) {
                const int s = runs[i] & 0xff;
                const int extra = s == 16 ? 2 : s == 17 ? 3 : s == 18 ? 7 : 0;
                e.bits(code.code[s] | (quint64(runs[i] >> 8) << code.length[s]),
                       code.length[s] + extra);
            }
        }
    };

    void bits(quint64 value, int count)
    {
        m_acc |= value << m_count;
        m_count += count;
        if (m_count >= 32) {
            const quint32 word = qToLittleEndian(quint32(m_acc));
            std::memcpy(m_out, &word, 4);
            m_out += 4;
            m_acc >>= 32;
            m_count -= 32;
        }
    }
    // How many bytes from `a` on are the same as from `b` on (b < a), at most n.
    qsizetype commonPrefix(qsizetype a, qsizetype b, qsizetype n) const
    {
        qsizetype i = 0;
        // Whole words while in the input, the last one masked to n.
        while (i < n && a + i + 8 <= m_size) {
            const quint64 x =
                qFromLittleEndian<quint64>(m_in + a + i) ^ qFromLittleEndian<quint64>(m_in + b + i);
            if (x != 0)
                return qMin(n, i + qCountTrailingZeroBits(x) / 8);
            i += 8;
        }
        if (i >= n)
            return n;
        while (i < n && m_in[a + i] == m_in[b + i])
            ++i;
        return i;
    }
    // How many bytes before `a` are the same as before `b` (b < a), at most n.
    qsizetype commonSuffix(qsizetype a, qsizetype b, qsizetype n) const
    {
        qsizetype i = 0;
        while (i < n && b - i - 8 >= 0) {
            const quint64 x = qFromLittleEndian<quint64>(m_in + a - i - 8) ^
                              qFromLittleEndian<quint64>(m_in + b - i - 8);
            if (x != 0)
                return qMin(n, i + qCountLeadingZeroBits(x) / 8);
            i += 8;
        }
        if (i >= n)
            return n;
        while (i < n && m_in[a - i - 1] == m_in[b - i - 1])
            ++i;
        return i;
    }
    // The pending match as tokens (length << 16 | distance - 1), in pieces of at most 258.
    void flushMatch()
    {
        qsizetype length = m_matchLength;
        if (length == 0)
            return;
        m_matchLength = 0;
        const quint32 d = quint32(m_matchDistance - 1);
        const int dc = m_tables.distanceCode[d < 256 ? d : 256 + (d >> 7)];
        while (length > 0) {
            qsizetype n = qMin(length, MaxMatch);
            if (length - n > 0 && length - n < MinMatch)
                n = length - MinMatch;
            ++m_litFreq[257 + m_tables.length[n].symbol];
            ++m_distFreq[dc];
            m_tokens.push_back(quint32(n) << 16 | d);
            length -= n;
        }
    }

    const char *m_in;
    const qsizetype m_size;
    const DeflateTables &m_tables;
    std::vector<quint32> m_tokens;
    quint32 m_litFreq[286] = {};
    quint32 m_distFreq[30] = {};
    qsizetype m_matchLength = 0;
    qsizetype m_matchDistance = 0;
    qsizetype m_matchEnd = 0;
    char *m_out = nullptr;
    quint64 m_acc = 0;
    int m_count = 0;
};

} // namespace

QByteArray FrameDeflate::piece(QByteArrayView frames, const QList<FrameLayout> &layouts)
{
    qsizetype total = 0;
    for (const FrameLayout &layout : layouts)
        total += layout.size;
    QList<FrameLayout> whole;
    const QList<FrameLayout> *use = &layouts;
    if (total != frames.size()) {
        whole.append(FrameLayout{});
        whole.first().size = quint32(frames.size());
        use = &whole;
    }
    FrameEncoder e(frames);
    // The last frame of each mark count: the one each frame is compared with.
    qsizetype last[FrameLayout::MaxMarks + 1] = {};
    const FrameLayout *lastLayout[FrameLayout::MaxMarks + 1] = {};
    qsizetype start = 0;
    for (const FrameLayout &layout : *use) {
        const int kind = qMin(int(layout.count), FrameLayout::MaxMarks);
        const FrameLayout *prev = lastLayout[kind];
        if (prev)
            e.frame(start, layout, last[kind], *prev);
        else
            e.literals(start, start + layout.size);
        last[kind] = start;
        lastLayout[kind] = &layout;
        start += layout.size;
    }
    return e.finish();
}

// Compresses pieces of a stream with one zlib state, reset for each piece: a piece never
// refers to bytes before it and ends byte-aligned (sync flush), so the same piece can be
// appended to any stream. Level 1: the batches are repetitive JSON (about 14:1 already),
// and this runs on the server's thread.
class EventStreams::Deflater
{
public:
    static constexpr qsizetype PieceBytes = 60000;

    Deflater()
    {
        m_ok = deflateInit2(&m_z, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~Deflater()
    {
        if (m_ok)
            deflateEnd(&m_z);
    }
    Deflater(const Deflater &) = delete;
    Deflater &operator=(const Deflater &) = delete;

    // Empty on failure (zlib out of memory).
    QByteArray piece(QByteArrayView data)
    {
        if (!m_ok || data.isEmpty())
            return {};
        QByteArray out;
        // Pieces of at most PieceBytes, each on its own: beyond about 64 KiB, zlib slides its
        // window and rebases its whole hash table every 32 KiB, which cost more than the
        // compression itself (half of deflate's instructions on 1300 events at once).
        for (qsizetype at = 0; at < data.size(); at += PieceBytes) {
            const QByteArrayView part = data.sliced(at, qMin(PieceBytes, data.size() - at));
            if (deflateReset(&m_z) != Z_OK)
                return {};
            const qsizetype used = out.size();
            // deflateBound() covers a finished stream; a sync flush adds an empty stored block.
            out.resize(used + qsizetype(deflateBound(&m_z, uLong(part.size()))) + 16);
            m_z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(part.data()));
            m_z.avail_in = uInt(part.size());
            m_z.next_out = reinterpret_cast<Bytef *>(out.data() + used);
            m_z.avail_out = uInt(out.size() - used);
            const int result = deflate(&m_z, Z_SYNC_FLUSH);
            if (result != Z_OK || m_z.avail_in != 0 || m_z.avail_out == 0)
                return {};
            out.resize(out.size() - qsizetype(m_z.avail_out));
        }
        return out;
    }

private:
    z_stream m_z{};
    bool m_ok = false;
};

EventStreams::EventStreams(EventHub *hub, int maxStreams, int heartbeatMs, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_maxStreams(maxStreams)
    , m_deflater(std::make_unique<Deflater>())
    , m_gzipHeartbeat(m_deflater->piece(Heartbeat))
{
    connect(hub, &EventHub::published, this, &EventStreams::published);
    m_coalesce.setSingleShot(true);
    connect(&m_coalesce, &QTimer::timeout, this, &EventStreams::deliver);
    m_heartbeat.setInterval(heartbeatMs > 0 ? heartbeatMs : DefaultHeartbeatMs);
    connect(&m_heartbeat, &QTimer::timeout, this, &EventStreams::heartbeat);
    m_probe.setInterval(ProbeIntervalMs);
    connect(&m_probe, &QTimer::timeout, this, [this] { probe(true); });
    m_probeEnd.setSingleShot(true);
    m_probeEnd.setInterval(ProbeWindowMs);
    connect(&m_probeEnd, &QTimer::timeout, this, [this] { probe(false); });
}

EventStreams::~EventStreams() = default;

QList<QPair<QByteArray, QByteArray>> EventStreams::streamHeaders(bool acceptsGzip)
{
    if (!acceptsGzip)
        return {};
    return {{"Content-Encoding", "gzip"}};
}

bool EventStreams::gzipped(const QList<QPair<QByteArray, QByteArray>> &headers)
{
    for (const auto &[name, value] : headers) {
        if (name.compare("content-encoding", Qt::CaseInsensitive) == 0 && value == "gzip")
            return true;
    }
    return false;
}

QByteArray EventStreams::responseHead(const QList<QPair<QByteArray, QByteArray>> &extra)
{
    // No length: the body is the stream, which ends when the connection closes.
    QByteArray head("HTTP/1.1 200 OK\r\n"
                    "Content-Type: text/event-stream; charset=utf-8\r\n"
                    "Cache-Control: no-cache, no-store\r\n"
                    "X-Accel-Buffering: no\r\n"
                    "X-Content-Type-Options: nosniff\r\n"
                    "Vary: Accept-Encoding\r\n");
    for (const auto &[name, value] : extra)
        head.append(name).append(": ").append(value).append("\r\n");
    head.append("Connection: close\r\n\r\n");
    return head;
}

void EventStreams::open(QTcpSocket *socket, const QByteArray &lastEventId, bool gzip)
{
    const EventHub::Resume r = m_hub->open(lastEventId);
    Stream &s = m_streams[socket];
    s.socket = socket;
    s.last = r.last;
    s.gzip = gzip;
    connect(socket, &QObject::destroyed, this, [this, socket] { m_streams.remove(socket); });
    connect(socket, &QTcpSocket::disconnected, this, [this, socket] { m_streams.remove(socket); });
    for (QSocketNotifier *n : socket->findChildren<QSocketNotifier *>()) {
        if (n->type() == QSocketNotifier::Read) {
            n->setEnabled(false);
            s.readNotifiers.append(n);
        }
    }
    if (!m_probe.isActive())
        m_probe.start();
    if (gzip) {
        const QByteArray piece = m_deflater->piece(r.frames);
        if (piece.isEmpty()) {
            socket->abort(); // zlib failed (out of memory): the client comes back
            return;
        }
        write(s, GzipHeader.toByteArray() + piece);
    } else {
        write(s, r.frames);
    }
    if (!m_heartbeat.isActive())
        m_heartbeat.start();
}

void EventStreams::write(Stream &stream, const QByteArray &bytes)
{
    QTcpSocket *socket = stream.socket;
    if (!socket || bytes.isEmpty())
        return;
    if (socket->bytesToWrite() > MaxBufferedBytes) {
        qCInfo(lcServer) << "event stream to" << socket->peerAddress().toString()
                         << "dropped: the client does not read";
        socket->abort();
        return;
    }
    // A plain TCP socket with nothing queued: straight to the kernel. Qt's write() would
    // queue the bytes and switch the socket's write notifier on, flush() send them and switch
    // it off again: about 1 500 instructions per stream and batch, with 64 streams as much as
    // formatting the batch. What the kernel does not take at once goes through Qt.
    qint64 sent = 0;
    if (socket->bytesToWrite() == 0 && socket->metaObject() == &QTcpSocket::staticMetaObject &&
        socket->socketDescriptor() != -1) {
        sent = platform::sendNow(socket->socketDescriptor(), bytes.constData(), bytes.size());
        if (sent < 0) {
            socket->abort(); // the client is gone
            return;
        }
        if (sent == bytes.size())
            return;
    }
    socket->write(sent > 0 ? bytes.sliced(sent) : bytes);
    // Out now, in one write(2): else the socket would wait for the next pass of the event
    // loop (a poll with its write notifier) to send it, per stream.
    socket->flush();
}

void EventStreams::published()
{
    if (m_coalesce.isActive())
        return; // written with the batches still to come
    const qint64 since = m_sinceDelivery.isValid() ? m_sinceDelivery.elapsed() : CoalesceMs;
    if (since >= CoalesceMs)
        deliver(); // the first batch after a quiet moment goes out at once
    else
        m_coalesce.start(int(CoalesceMs - since));
}

void EventStreams::deliver()
{
    m_sinceDelivery.start();
    // Streams usually stand at the same event: the batch's bytes are built (and compressed)
    // once and the same QByteArray is written to each.
    struct Batch
    {
        EventHub::Resume plain;
        QByteArray gzip;
    };
    QHash<quint64, Batch> batches;
    const bool anyGzip =
        std::any_of(m_streams.cbegin(), m_streams.cend(), [](const Stream &s) { return s.gzip; });
    const QList<QTcpSocket *> sockets = m_streams.keys();
    for (QTcpSocket *key : sockets) {
        auto it = m_streams.find(key);
        if (it == m_streams.end())
            continue;
        auto batch = batches.find(it->last);
        if (batch == batches.end())
            batch = batches.insert(it->last, {m_hub->since(it->last, anyGzip), {}});
        it->last = batch->plain.last;
        if (batch->plain.frames.isEmpty())
            continue;
        if (!it->gzip) {
            write(*it, batch->plain.frames);
            continue;
        }
        // Compressed against themselves (FrameDeflate): a fraction of zlib's work.
        if (batch->gzip.isEmpty())
            batch->gzip = FrameDeflate::piece(batch->plain.frames, batch->plain.layouts);
        write(*it, batch->gzip);
    }
}

void EventStreams::heartbeat()
{
    if (m_streams.isEmpty()) {
        m_heartbeat.stop();
        return;
    }
    const QList<QTcpSocket *> sockets = m_streams.keys();
    for (QTcpSocket *key : sockets) {
        auto it = m_streams.find(key);
        if (it != m_streams.end())
            write(*it, it->gzip ? m_gzipHeartbeat
                                : QByteArray::fromRawData(Heartbeat.data(), Heartbeat.size()));
    }
}

void EventStreams::probe(bool on)
{
    if (m_streams.isEmpty()) {
        m_probe.stop();
        return;
    }
    for (const Stream &stream : std::as_const(m_streams)) {
        for (const QPointer<QSocketNotifier> &n : stream.readNotifiers) {
            if (n)
                n->setEnabled(on);
        }
    }
    if (on)
        m_probeEnd.start();
}

void EventStreams::closeAll()
{
    const QList<QTcpSocket *> sockets = m_streams.keys();
    m_streams.clear();
    for (QTcpSocket *socket : sockets)
        socket->abort();
}

} // namespace agmem
