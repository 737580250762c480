#include "mergeengine.h"

#include "jsonwriter.h"

#include <algorithm>

namespace agmem {

QString mergeModeName(MergeMode mode)
{
    return mode == MergeMode::Latest ? QStringLiteral("latest") : QStringLiteral("cumulative");
}

std::optional<MergeMode> mergeModeFromName(QStringView name)
{
    if (name == u"latest")
        return MergeMode::Latest;
    if (name == u"cumulative")
        return MergeMode::Cumulative;
    return std::nullopt;
}

namespace {

// A UTF-16 unit's place in code point order. Surrogates (D800..DFFF) encode code points
// above FFFF, so they must sort after E000..FFFF: the two ranges are shifted past each
// other.
constexpr int codePointRank(char16_t u)
{
    return u >= 0xE000 ? u - 0x800 : u >= 0xD800 ? u + 0x2000 : u;
}

} // namespace

bool CodePointLess::operator()(const QString &a, const QString &b) const
{
    return compareCodePoints(a, b) < 0;
}

int compareCodePoints(QStringView a, QStringView b)
{
    const qsizetype n = std::min(a.size(), b.size());
    const char16_t *pa = a.utf16();
    const char16_t *pb = b.utf16();
    if (pa != pb) {
        for (qsizetype i = 0; i < n; ++i) {
            if (pa[i] != pb[i])
                return codePointRank(pa[i]) - codePointRank(pb[i]);
        }
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

namespace detail {

CodePointKey codePointKey(const QString &s, quint32 index)
{
    // As CodePointLess: surrogates after E000..FFFF. A unit maps to 1..0x10000 (0: past the
    // end), so a shorter string's key is below a longer one's with the same start; equal
    // keys (the same first eight units) are told apart by the strings.
    const auto unit = [&s](qsizetype i) -> quint64 {
        if (i >= s.size())
            return 0;
        return quint64(codePointRank(s[i].unicode())) + 1;
    };
    CodePointKey key;
    // 17 bits a unit: three in each half, then two more (the rest of the 64 bits).
    key.high = (unit(0) << 47) | (unit(1) << 30) | (unit(2) << 13) | (unit(3) >> 4);
    key.low = ((unit(3) & 0xF) << 60) | (unit(4) << 43) | (unit(5) << 26) | (unit(6) << 9) |
              (unit(7) >> 8);
    key.index = index;
    return key;
}

} // namespace detail

void sortByCodePoint(std::vector<QString> &strings)
{
    sortByCodePoint(strings, [](const QString &s) -> const QString & { return s; });
}

MergeEngine::MergeEngine(MergeMode mode)
    : m_mode(mode)
{}

MergeEngine::MergeEngine(const MergeEngine &other)
    : m_mode(other.m_mode)
{
    *this = other;
}

MergeEngine &MergeEngine::operator=(const MergeEngine &other)
{
    if (this == &other)
        return *this;
    m_mode = other.m_mode;
    m_agents = other.m_agents;
    m_topicTotals = other.m_topicTotals;
    m_factHolders = other.m_factHolders;
    m_timestamps = other.m_timestamps;
    m_contributors = other.m_contributors;
    m_sequence = other.m_sequence;
    m_topicJournal.clear();
    m_factJournal.clear();
    m_journalFull = true;
    m_unpublished = true;
    // Never shared between engines: a copy makes its own (m_answer stays null until asked
    // for); an engine assigned to keeps its answer, which gets the whole view next.
    return *this;
}

MergeEngine::MergeEngine(MergeEngine &&other) noexcept = default;
MergeEngine &MergeEngine::operator=(MergeEngine &&other) noexcept = default;
MergeEngine::~MergeEngine() = default;

Contribution MergeEngine::contributionOf(const Summary &summary)
{
    Contribution c;
    c.timestamp = summary.timestamp;
    c.topics = summary.topicCounts;
    std::sort(c.topics.begin(), c.topics.end(),
              [](const auto &x, const auto &y) { return CodePointLess{}(x.first, y.first); });
    c.facts = summary.factHashes;
    std::sort(c.facts.begin(), c.facts.end(), CodePointLess{});
    return c;
}

namespace {

qint64 countOf(const QList<QPair<QString, qint64>> &topics, const QString &topic)
{
    const auto it = std::lower_bound(topics.begin(), topics.end(), topic,
                                     [](const QPair<QString, qint64> &entry, const QString &t) {
                                         return CodePointLess{}(entry.first, t);
                                     });
    return (it != topics.end() && it->first == topic) ? it->second : 0;
}

} // namespace

MergeEngine::Plan MergeEngine::plan(const Summary &summary) const
{
    Plan plan;
    const auto agent = m_agents.constFind(summary.agentId);
    const Contribution *old =
        (agent != m_agents.cend() && agent->current) ? &*agent->current : nullptr;
    if (old)
        plan.previous = *old;

    Contribution next;
    if (m_mode == MergeMode::Latest) {
        if (old && summary.timestamp < old->timestamp)
            return plan; // a delayed older summary: kept in history only
        next = contributionOf(summary);
    } else {
        const Contribution pushed = contributionOf(summary);
        if (!old) {
            next = pushed;
        } else {
            next.timestamp = std::max(old->timestamp, pushed.timestamp);
            // Both lists are sorted: merge them.
            auto a = old->topics.cbegin();
            auto b = pushed.topics.cbegin();
            CodePointLess less;
            while (a != old->topics.cend() || b != pushed.topics.cend()) {
                if (b == pushed.topics.cend() ||
                    (a != old->topics.cend() && less(a->first, b->first))) {
                    next.topics.append(*a++);
                } else if (a == old->topics.cend() || less(b->first, a->first)) {
                    next.topics.append(*b++);
                } else {
                    qint64 sum = 0;
                    if (qAddOverflow(a->second, b->second, &sum)) {
                        plan.overflowTopic = a->first;
                        return plan;
                    }
                    next.topics.append({a->first, sum});
                    ++a;
                    ++b;
                }
            }
            std::set_union(old->facts.cbegin(), old->facts.cend(), pushed.facts.cbegin(),
                           pushed.facts.cend(), std::back_inserter(next.facts), less);
        }
    }
    if (old && *old == next)
        return plan; // the same state again: nothing changes

    for (const auto &[topic, count] : next.topics) {
        const auto total = m_topicTotals.find(topic);
        const qint64 base = (total == m_topicTotals.end() ? 0 : total->second.total) -
                            (old ? countOf(old->topics, topic) : 0);
        qint64 sum = 0;
        if (qAddOverflow(base, count, &sum)) {
            plan.overflowTopic = topic;
            return plan;
        }
    }
    plan.next = std::move(next);
    return plan;
}

void MergeEngine::noteTopic(const QString &topic, qint64 total, bool present)
{
    if (m_journalFull)
        return;
    m_topicJournal.push_back({topic, total, present});
}

void MergeEngine::noteFact(const QString &fact, bool present)
{
    if (m_journalFull)
        return;
    m_factJournal.push_back({fact, 0, present});
}

void MergeEngine::changed()
{
    m_unpublished = true;
    // Unpublished for long: sending the whole view is cheaper than the changes.
    const size_t journal = m_topicJournal.size() + m_factJournal.size();
    if (!m_journalFull && journal > 65536 &&
        journal > 2 * (m_topicTotals.size() + m_factHolders.size())) {
        m_journalFull = true;
        m_topicJournal.clear();
        m_factJournal.clear();
    }
}

void MergeEngine::addTopic(const QString &topic, qint64 count)
{
    TopicTotal &t = m_topicTotals[topic];
    t.total += count;
    ++t.holders;
    noteTopic(topic, t.total, true);
}

void MergeEngine::dropTopic(const QString &topic, qint64 count)
{
    const auto it = m_topicTotals.find(topic);
    if (it == m_topicTotals.end())
        return;
    it->second.total -= count;
    if (--it->second.holders <= 0) {
        noteTopic(topic, 0, false);
        m_topicTotals.erase(it);
    } else {
        noteTopic(topic, it->second.total, true);
    }
}

void MergeEngine::addFact(const QString &fact)
{
    if (++m_factHolders[fact] == 1)
        noteFact(fact, true);
}

void MergeEngine::dropFact(const QString &fact)
{
    const auto it = m_factHolders.find(fact);
    if (it != m_factHolders.end() && --it->second <= 0) {
        noteFact(fact, false);
        m_factHolders.erase(it);
    }
}

void MergeEngine::addContribution(const Contribution &c)
{
    for (const auto &[topic, count] : c.topics)
        addTopic(topic, count);
    for (const QString &fact : c.facts)
        addFact(fact);
    ++m_timestamps[c.timestamp];
    ++m_contributors;
    changed();
}

void MergeEngine::removeContribution(const Contribution &c)
{
    for (const auto &[topic, count] : c.topics)
        dropTopic(topic, count);
    for (const QString &fact : c.facts)
        dropFact(fact);
    const auto ts = m_timestamps.find(c.timestamp);
    if (ts != m_timestamps.end() && --ts->second <= 0)
        m_timestamps.erase(ts);
    --m_contributors;
    changed();
}

void MergeEngine::apply(const QString &agentId, const std::optional<Contribution> &next,
                        Instant receivedAt, quint64 sequence)
{
    apply(agentId, std::optional<Contribution>(next), receivedAt, sequence);
}

void MergeEngine::apply(const QString &agentId, std::optional<Contribution> &&next,
                        Instant receivedAt, quint64 sequence)
{
    AgentState &agent = m_agents[agentId];
    if (agent.agentId.isNull()) {
        agent.agentId = agentId;
        agent.firstSeen = receivedAt;
    }
    ++agent.pushCount;
    agent.lastSeen = std::max(agent.lastSeen, receivedAt);
    if (next) {
        if (agent.current)
            replaceContribution(*agent.current, *next);
        else
            addContribution(*next);
        agent.current = std::move(next);
        agent.sequence = sequence;
    }
}

void MergeEngine::replaceContribution(const Contribution &old, const Contribution &next)
{
    // As removeContribution(old) then addContribution(next), but a topic or fact both hold
    // is looked up once (a topic: its total moves by the difference) or not at all (a fact:
    // its holders stay). Both lists are sorted (CodePointLess); equal entries pair up one
    // to one, so a repeated fact counts as often as it is listed, as it does there.
    const CodePointLess less;
    auto a = old.topics.cbegin();
    auto b = next.topics.cbegin();
    while (a != old.topics.cend() || b != next.topics.cend()) {
        if (b == next.topics.cend() || (a != old.topics.cend() && less(a->first, b->first))) {
            dropTopic(a->first, a->second);
            ++a;
        } else if (a == old.topics.cend() || less(b->first, a->first)) {
            addTopic(b->first, b->second);
            ++b;
        } else {
            const auto it = m_topicTotals.find(b->first);
            if (it == m_topicTotals.end()) {
                addTopic(b->first, b->second); // not counted before (as the removal skips it)
            } else if (a->second != b->second) {
                it->second.total = it->second.total - a->second + b->second;
                noteTopic(b->first, it->second.total, true);
            }
            ++a;
            ++b;
        }
    }
    auto x = old.facts.cbegin();
    auto y = next.facts.cbegin();
    while (x != old.facts.cend() || y != next.facts.cend()) {
        if (y == next.facts.cend() || (x != old.facts.cend() && less(*x, *y))) {
            dropFact(*x);
            ++x;
        } else if (x == old.facts.cend() || less(*y, *x)) {
            addFact(*y);
            ++y;
        } else {
            ++x;
            ++y;
        }
    }
    if (old.timestamp != next.timestamp) {
        const auto ts = m_timestamps.find(old.timestamp);
        if (ts != m_timestamps.end() && --ts->second <= 0)
            m_timestamps.erase(ts);
        ++m_timestamps[next.timestamp];
    }
    changed();
}

void MergeEngine::restore(const AgentState &state)
{
    removeAgent(state.agentId);
    AgentState &agent = m_agents[state.agentId];
    agent = state;
    if (agent.current)
        addContribution(*agent.current);
}

void MergeEngine::reserve(qsizetype agents, qsizetype facts)
{
    if (agents > m_agents.capacity())
        m_agents.reserve(agents);
    if (size_t(facts) > m_factHolders.size())
        m_factHolders.reserve(size_t(facts));
}

void MergeEngine::removeAgent(const QString &agentId)
{
    const auto it = m_agents.find(agentId);
    if (it == m_agents.end())
        return;
    if (it->current)
        removeContribution(*it->current);
    m_agents.erase(it);
    changed();
}

void MergeEngine::clear()
{
    m_agents.clear();
    m_topicTotals.clear();
    m_factHolders.clear();
    m_timestamps.clear();
    m_contributors = 0;
    m_topicJournal.clear();
    m_factJournal.clear();
    m_journalFull = true;
    m_unpublished = true;
}

void MergeEngine::setSequence(quint64 sequence)
{
    if (sequence != m_sequence)
        m_unpublished = true;
    m_sequence = sequence;
    publish();
}

void MergeEngine::publish() const
{
    if (!m_answer) {
        m_answer = std::make_shared<PullAnswer>();
        m_journalFull = true;
        m_unpublished = true;
    }
    if (!m_unpublished)
        return;
    ViewUpdate u;
    u.full = m_journalFull;
    if (u.full) {
        u.topics.reserve(m_topicTotals.size());
        for (const auto &[topic, total] : m_topicTotals)
            u.topics.push_back({topic, total.total, true});
        u.facts.reserve(m_factHolders.size());
        for (const auto &[fact, holders] : m_factHolders)
            u.facts.push_back({fact, 0, true});
        // In order already: the answer then only checks it (a million facts at start-up).
        const auto keyOf = [](const ViewEntry &e) -> const QString & { return e.key; };
        sortByCodePoint(u.topics, keyOf);
        sortByCodePoint(u.facts, keyOf);
    } else {
        u.topics.swap(m_topicJournal);
        u.facts.swap(m_factJournal);
    }
    m_topicJournal.clear();
    m_factJournal.clear();
    u.contributors = m_contributors;
    u.lastUpdated = lastUpdated();
    u.totalFacts = qint64(m_factHolders.size());
    u.totalTopics = qint64(m_topicTotals.size());
    u.mergeMode = mergeModeName(m_mode).toLatin1();
    u.sequence = m_sequence;
    m_journalFull = false;
    m_unpublished = false;
    m_answer->publish(std::move(u));
}

std::shared_ptr<PullAnswer> MergeEngine::answer() const
{
    publish();
    return m_answer;
}

std::optional<Instant> MergeEngine::lastUpdated() const
{
    if (m_timestamps.empty())
        return std::nullopt;
    return m_timestamps.rbegin()->first;
}

QByteArray MergeEngine::pullJson() const
{
    return answer()->plain()->joined();
}

QByteArray MergeEngine::buildPullJson() const
{
    std::vector<std::pair<QString, qint64>> topics;
    topics.reserve(m_topicTotals.size());
    for (const auto &[topic, total] : m_topicTotals)
        topics.emplace_back(topic, total.total);
    std::sort(topics.begin(), topics.end(),
              [](const auto &a, const auto &b) { return CodePointLess{}(a.first, b.first); });
    std::vector<QString> facts;
    facts.reserve(m_factHolders.size());
    for (const auto &entry : m_factHolders)
        facts.push_back(entry.first);
    sortByCodePoint(facts);

    QByteArray out;
    qsizetype factBytes = 0;
    for (const QString &fact : facts)
        factBytes += fact.size() + 3;
    out.reserve(factBytes + 64 * qsizetype(topics.size()) + 256);

    JsonWriter json(&out);
    json.beginObject();
    json.key("merged_topic_counts");
    json.beginObject();
    for (const auto &[topic, total] : topics) {
        json.key(topic);
        json.value(total);
    }
    json.endObject();
    json.key("unique_fact_hashes");
    json.beginArray();
    for (const QString &fact : facts)
        json.value(fact);
    json.endArray();
    json.key("contributing_agents");
    json.value(qint64(m_contributors));
    json.key("last_updated");
    if (const auto last = lastUpdated())
        json.value(formatIsoTimestamp(*last));
    else
        json.null();
    json.key("metadata");
    json.beginObject();
    json.key("total_facts");
    json.value(qint64(m_factHolders.size()));
    json.key("total_topics");
    json.value(qint64(m_topicTotals.size()));
    json.key("merge_mode");
    json.value(mergeModeName(m_mode));
    json.key("sequence");
    json.value(qint64(m_sequence));
    json.endObject();
    json.endObject();
    return out;
}

} // namespace agmem
