#pragma once

#include "pullanswer.h"
#include "summary.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace agmem {

enum class MergeMode
{
    // Per agent, the summary with the newest timestamp is its current state.
    Latest,
    // Every accepted push is added up, as the reference coordinator does.
    Cumulative,
};

QString mergeModeName(MergeMode mode);
std::optional<MergeMode> mergeModeFromName(QStringView name);

// Orders strings by Unicode code point, as Python's sorted() does (QString's own
// operator< compares UTF-16 units, which puts U+E000..U+FFFF after astral characters).
struct CodePointLess
{
    bool operator()(const QString &a, const QString &b) const;
};

// The same order as a three-way comparison: negative when `a` comes first, 0 when equal,
// positive when `b` does. One pass where a merge of two sorted lists would otherwise call
// CodePointLess twice per step; strings sharing their data compare equal at once.
int compareCodePoints(QStringView a, QStringView b);

// What one agent adds to the merged view. Topics and facts are kept sorted, so two
// contributions are equal exactly when they hold the same counts and facts.
// Sorts many strings in code point order (CodePointLess) fast: by a key of their first
// eight UTF-16 units packed into integers (compared without touching the strings, which
// lie scattered over the heap), the strings themselves only where those keys tie.
// `keyOf(item)` gives the item's string.
void sortByCodePoint(std::vector<QString> &strings);
template <typename T, typename KeyOf>
void sortByCodePoint(std::vector<T> &items, KeyOf keyOf);

struct Contribution
{
    Instant timestamp = 0;
    QList<QPair<QString, qint64>> topics;
    QStringList facts;

    bool operator==(const Contribution &other) const = default;
};

struct TopicTotal
{
    qint64 total = 0;
    // Agents reporting the topic: it stays listed while one does, even with a count of 0.
    int holders = 0;
};

struct QStringHasher
{
    size_t operator()(const QString &s) const noexcept
    {
        // Qt 6.4's qHash() of a string shorter than 8 UTF-16 units took 300-400 ns on the
        // AVX-512 machine measured (its short-key path; 6 ns from 8 units on), and topic
        // names and labels are often that short: those are mixed here (two 64-bit words).
        if (s.size() >= 8)
            return size_t(qHash(s));
        quint64 words[2] = {0, 0};
        std::memcpy(words, s.constData(), size_t(s.size()) * sizeof(QChar));
        quint64 h = (words[0] ^ (quint64(s.size()) << 56)) * 0x9E3779B97F4A7C15ULL;
        h ^= words[1] + 0xBF58476D1CE4E5B9ULL + (h << 6) + (h >> 2);
        h ^= h >> 31;
        h *= 0x94D049BB133111EBULL;
        h ^= h >> 29;
        return size_t(h);
    }
};

// Hashed, so a push costs no string comparisons beyond equality: iteration order is
// unspecified. Whoever shows them in order sorts (CodePointLess), as the /pull answer
// (PullAnswer) and the window's models do.
using TopicTotals = std::unordered_map<QString, TopicTotal, QStringHasher>;
using FactHolders = std::unordered_map<QString, qint64, QStringHasher>;

struct AgentState
{
    QString agentId;
    std::optional<Contribution> current;
    qint64 pushCount = 0;
    Instant firstSeen = 0;
    Instant lastSeen = 0;
    quint64 sequence = 0;
};

// An engine's agents at a sequence, handed to another thread (the window's reader seeds
// its engine from what the server loaded instead of reading it all again): a copy of the
// implicitly shared hash, so taking it costs nothing and it never changes.
struct AgentsSnapshot
{
    quint64 sequence = 0;
    QHash<QString, AgentState> agents;
};
using AgentsSnapshotPtr = std::shared_ptr<const AgentsSnapshot>;

// The merged view, kept incrementally: a total per topic and, per fact, how many agents
// hold it. Applying a push costs the size of the agent's old and new summaries; a pull
// costs the size of the answer, never the length of the history.
class MergeEngine
{
public:
    explicit MergeEngine(MergeMode mode = MergeMode::Latest);
    // A copy has its own answer (built in full when first asked for).
    MergeEngine(const MergeEngine &other);
    MergeEngine &operator=(const MergeEngine &other);
    MergeEngine(MergeEngine &&other) noexcept;
    MergeEngine &operator=(MergeEngine &&other) noexcept;
    ~MergeEngine();

    MergeMode mode() const { return m_mode; }

    struct Plan
    {
        // The agent's contribution after this push; empty when the push changes nothing
        // in the merge (a stale or repeated summary).
        std::optional<Contribution> next;
        // The agent's contribution before this push (empty: a new agent, or one without).
        std::optional<Contribution> previous;
        // Set when the push would overflow a 64-bit count; the push must be refused.
        QString overflowTopic;

        bool changesMerge() const { return next.has_value(); }
        bool overflows() const { return !overflowTopic.isNull(); }
    };

    // Decides what a push does, without changing anything.
    Plan plan(const Summary &summary) const;

    // Records a push for an agent: counts it, and replaces its contribution when given.
    void apply(const QString &agentId, const std::optional<Contribution> &next, Instant receivedAt,
               quint64 sequence);
    // The same, taking `next` over.
    void apply(const QString &agentId, std::optional<Contribution> &&next, Instant receivedAt,
               quint64 sequence);
    // Loads an agent's stored state (start-up and catch-up).
    void restore(const AgentState &state);
    // Room for this many agents and distinct facts (before restoring many at once: growing
    // a hash of a million facts step by step rehashes it again and again).
    void reserve(qsizetype agents, qsizetype facts);
    void removeAgent(const QString &agentId);
    void clear();

    // Also hands the changes made so far to answer() (call it after each committed batch).
    void setSequence(quint64 sequence);
    quint64 sequence() const { return m_sequence; }

    // Reading the merged view.
    int contributingAgents() const { return m_contributors; }
    qsizetype agentCount() const { return m_agents.size(); }
    const QHash<QString, AgentState> &agents() const { return m_agents; }
    AgentsSnapshotPtr snapshot() const
    {
        return std::make_shared<const AgentsSnapshot>(AgentsSnapshot{m_sequence, m_agents});
    }
    const TopicTotals &topicTotals() const { return m_topicTotals; }
    const FactHolders &factHolders() const { return m_factHolders; }
    std::optional<Instant> lastUpdated() const;

    // The body of GET /pull for the current state, compact JSON (answer()'s bytes).
    QByteArray pullJson() const;
    // The maintained /pull answer. Safe to use from other threads: it holds what was
    // published (setSequence(), answer(), pullJson()); calling this on the engine's thread
    // publishes what changed first.
    std::shared_ptr<PullAnswer> answer() const;
    // The same bytes as pullJson(), serialized from scratch (for tests and checks).
    QByteArray buildPullJson() const;

    static Contribution contributionOf(const Summary &summary);

private:
    void addContribution(const Contribution &c);
    void removeContribution(const Contribution &c);
    // An agent's contribution replaced: the same as removing `old` and adding `next`.
    void replaceContribution(const Contribution &old, const Contribution &next);
    void addTopic(const QString &topic, qint64 count);
    void dropTopic(const QString &topic, qint64 count);
    void addFact(const QString &fact);
    void dropFact(const QString &fact);
    void noteTopic(const QString &topic, qint64 total, bool present);
    void noteFact(const QString &fact, bool present);
    void changed();
    void publish() const;

    MergeMode m_mode;
    QHash<QString, AgentState> m_agents;
    TopicTotals m_topicTotals;
    FactHolders m_factHolders;
    std::map<Instant, int> m_timestamps;
    int m_contributors = 0;
    quint64 m_sequence = 0;
    // Changes to the view since the last publish(), for m_answer; when m_journalFull, the
    // next publish sends the whole view instead (start, clear, a long time unpublished).
    mutable std::vector<ViewEntry> m_topicJournal;
    mutable std::vector<ViewEntry> m_factJournal;
    mutable bool m_journalFull = true;
    mutable bool m_unpublished = true;
    mutable std::shared_ptr<PullAnswer> m_answer;
};

namespace detail {

struct CodePointKey
{
    quint64 high = 0;
    quint64 low = 0;
    quint32 index = 0;
};
CodePointKey codePointKey(const QString &s, quint32 index);
// Sorts the keys; `stringAt(index)` gives the string of a key, for ties.
template <typename StringAt>
void sortKeys(std::vector<CodePointKey> &keys, StringAt stringAt)
{
    std::sort(keys.begin(), keys.end(), [&](const CodePointKey &a, const CodePointKey &b) {
        if (a.high != b.high)
            return a.high < b.high;
        if (a.low != b.low)
            return a.low < b.low;
        return CodePointLess{}(stringAt(a.index), stringAt(b.index));
    });
}

} // namespace detail

template <typename T, typename KeyOf>
void sortByCodePoint(std::vector<T> &items, KeyOf keyOf)
{
    std::vector<detail::CodePointKey> keys;
    keys.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i)
        keys.push_back(detail::codePointKey(keyOf(items[i]), quint32(i)));
    detail::sortKeys(keys, [&](quint32 i) -> const QString & { return keyOf(items[i]); });
    std::vector<T> sorted;
    sorted.reserve(items.size());
    for (const detail::CodePointKey &k : keys)
        sorted.push_back(std::move(items[k.index]));
    items.swap(sorted);
}

} // namespace agmem
