<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;What:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>What to export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Format:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>File format</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>F&amp;ile:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>File to export to</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose the file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export progress</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop the export; no file is written</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Cancel export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>C&amp;lose</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>KeysPage</name>
    <message>
        <source>New key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Name of the new key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>e.g. laptop of Ada</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Scopes:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>May push summaries</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>May pull the merged view</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>May reset the coordinator and delete agents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>C&amp;reate key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy the new key now: it is shown only this once.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The new key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy the new key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Hide the new key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>API keys</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key starts with</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Scopes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last used</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke the selected key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Re&amp;voke…</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>agmem Coordinator</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Security warning</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The coordinator is reachable from the network and requires no API key: anyone who can reach this computer can push, pull and fill the database. Create a key on the API keys page.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Server state</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Server address</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start the server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop the server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Server error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Agents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter agents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter agents by id…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Topics of the selected agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Topic</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Count</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Facts of the selected agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Push history of the selected agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Received</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Summary time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Source</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Topics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Facts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>T&amp;opics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter topics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter topics…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Merged topic counts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents reporting the selected topic</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Facts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter facts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter facts…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unique facts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A&amp;ctivity</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pause the activity list</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Clear the activity list</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>C&amp;lear</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Latest requests</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>S&amp;hare with the team</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Share with the team: listen on every network interface</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Off, the coordinator only answers programs on this computer. On, agents on other machines can reach it; give them an API key so nobody else can.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create a &amp;key for the team…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Paste this into &lt;code&gt;.mem/config.yaml&lt;/code&gt; of each agmem client:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Client configuration snippet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy the configuration snippet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export the merged view, the agents or the history as JSON or CSV</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Host, port, merge mode, durability, limits, TLS and database location</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Copy address</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;About agmem Coordinator</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Settings overridden for this run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Address to listen on. Anything but loopback exposes the coordinator to the network.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Host address check</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TCP port to listen on; 0 picks a free one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Any free port</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start serving when the app starts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start serving when the app sta&amp;rts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Takes effect the next time the app starts. Without it, press Start in the window.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Host and port take effect when the server restarts. If it is running when you press OK or Apply, you are asked whether to restart it now.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When server settings take effect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Merge &amp;&amp; storage</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Merge mode</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Merge mode latest</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lat&amp;est</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Each agent&apos;s newest summary counts once; an older or repeated push changes nothing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Merge mode cumulative</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>C&amp;umulative</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Every accepted push is added up, exactly like the reference server.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Durability</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Durability full</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Full</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A confirmed push survives a power loss.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Durability normal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Normal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Faster: survives a crash of the coordinator, but not of the machine.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Merge mode and durability take effect when the server restarts; a new merge mode is recomputed from the stored history.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When merge mode and durability take effect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Database</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Data&amp;base:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Database location</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A SQLite file, sqlite:///path/file.db, :memory: (throwaway) or postgresql://user:password@host:5432/database.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Default: a SQLite file in the app-data folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose a SQLite database file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Bro&amp;wse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Database location check</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A SQLite file, or postgresql://user:password@host:5432/database. Empty: the default.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Takes effect when the app restarts: the window reads this database too.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When the database location takes effect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Limits</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Each push</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest request &amp;body:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest request body in bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest request body accepted (else 413).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest agent &amp;ID:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest agent ID in characters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest agent_id accepted.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> characters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most to&amp;pics:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most topics in one summary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most topics in one summary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest topic &amp;name:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest topic name in characters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest topic name.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most &amp;facts:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most fact hashes in one summary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most fact hashes in one summary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest fact &amp;hash:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest fact hash or label in characters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest fact hash or label.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lar&amp;gest metadata:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest metadata object in bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest metadata object (as compact JSON).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connections</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most open conn&amp;ections:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most open connections</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open connections at most; more are answered 503.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Idle timeo&amp;ut:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Idle timeout in seconds</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A keep-alive connection with no request is closed after this long.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Read timeout:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Read timeout in seconds</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A request must arrive whole within this long (else 408).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest re&amp;quest head:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest request head in bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Largest request line plus headers (else 431).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Rate limit per &amp;key:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Rate limit in requests per second</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Requests per second per API key (per address without a key), bursts of twice as many; 0 turns it off.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> requests/s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Off</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Limits take effect when the server restarts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When limits take effect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;TLS</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cert&amp;ificate:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TLS certificate file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Serve HTTPS with this certificate (chain), a PEM file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose the certificate file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Private &amp;key:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TLS private key file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The certificate&apos;s unencrypted private key, a PEM file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose the private key file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TLS files check</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Both files or neither. With both, the server answers HTTPS only; the agmem clients then need an https:// coordinator_url. Takes effect when the server restarts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When TLS takes effect</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::ActivityModel</name>
    <message>
        <source>(refused before reading)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>merged</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>accepted, merge unchanged (repeated or older summary)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Source</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Result</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::AgentsModel</name>
    <message>
        <source>Agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>First seen</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pushes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Topics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Facts</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::ExportDialog</name>
    <message>
        <source>Merged view (as /pull answers it)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>History (every push)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>JSON</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CSV</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Exactly the answer of GET /pull: merged topic counts, unique facts, contributing agents.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>One table: kind (topic or fact), name, count (merged count of a topic, number of agents holding a fact).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Per agent: id, first and last seen (UTC), pushes, topics and facts of its current summary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>JSON lines: one push per line, oldest first, with its topic counts, facts and metadata.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>One row per push, oldest first: agent, timestamps, source and the numbers of its topics and facts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Text starting with = + - or @ gets a leading apostrophe, so spreadsheets do not run it as a formula.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>JSON lines (*.jsonl *.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>JSON files (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export to</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose a file to export to.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Exporting… %1 of %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Exported to %1. %2 · Bytes: %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export cancelled; no file was written.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Topics and facts: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pushes: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::FactsModel</name>
    <message>
        <source>Fact</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents holding it</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::KeysPage</name>
    <message>
        <source>The key is on the clipboard.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot read the keys: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>never</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>active</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>revoked %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot create the key: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; created.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Give the key a name, so you know later who uses it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose at least one scope.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot revoke the key: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; revoked.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke the key &quot;%1&quot; (%2)? Clients using it are refused within a few seconds. This cannot be undone.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::MainWindow</name>
    <message>
        <source>API &amp;keys</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Totals</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Snippet copied to the clipboard.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Paused · new requests held: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Paused: new requests are held.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Listening on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Could not start: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Listening on %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>agmem Coordinator: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Includes the team key created in this session.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Replace YOUR_KEY with a key that has the push and pull scopes.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The server is not running.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Listen on every network interface? Agents on other machines can then reach the coordinator; so can anyone else on the network unless an API key is required.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Share</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create a key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No API key with the push and pull scopes exists yet. Create one for the team now? The server then refuses requests without a key.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>team</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created the key &quot;team&quot; (push, pull); it is in the snippet below.</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>no answer for %n second(s)</source>
        <translation>
            <numerusform>no answer for %n second</numerusform>
            <numerusform>no answer for %n seconds</numerusform>
        </translation>
    </message>
    <message>
        <source>The database %1 cannot be reached since %2 (%3). The window shows what was read before and keeps trying.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reading the database…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unique facts: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Matching: %1 of %2 facts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents: %1 · Topics: %2 · Unique facts: %3 · Pushes in total: %4</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Reading the database…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;No current summary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · %3 · %4</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n topic(s)</source>
        <translation>
            <numerusform>%n topic</numerusform>
            <numerusform>%n topics</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n fact(s)</source>
        <translation>
            <numerusform>%n fact</numerusform>
            <numerusform>%n facts</numerusform>
        </translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reading the history…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The history cannot be read: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The new database location is used when the app restarts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Restart the server?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The changed settings take effect when the server restarts. Restart it now? Open connections are closed; agents reach it again at their next push.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Restart</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The new settings apply when the server next starts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About agmem Coordinator</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;h3&gt;agmem Coordinator %1&lt;/h3&gt;&lt;p&gt;Coordinator for agmem agent-memory federation: agents push summaries of their memory and pull the merged view of every agent.&lt;/p&gt;&lt;p&gt;Database: %2&lt;br&gt;Qt %3&lt;/p&gt;</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::PushRateChart</name>
    <message>
        <source>Pushes per minute, last hour: total %1, peak %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This minute: %1. Scale: 0 to %2 pushes per minute; bars from 60 minutes ago to now.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This minute: %1 · Last hour: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1–%2
Not read: too many pushes in the history to read at start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This minute, %1–%2
Pushes so far: %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1–%2
Pushes: %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pushes per minute</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No pushes in the last hour</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>−%1 min</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>now</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::SettingsDialog</name>
    <message>
        <source>Restore &amp;defaults</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TLS certificate</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TLS private key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The settings could not be saved to %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter an address: 127.0.0.1 for this computer only, 0.0.0.0 for every network interface.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Only this computer can connect.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Every network interface: other machines can reach the coordinator. Create an API key for them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Only connections to %1 are accepted.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not a database location: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Default: the SQLite file %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SQLite file %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>In memory: everything is lost when the app quits.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PostgreSQL database &quot;%1&quot; on %2, port %3.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The password is saved as plain text in the settings file (~/.pgpass keeps it out).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No TLS: the server speaks plain HTTP.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose both a certificate and its private key, or neither.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The file %1 does not exist.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TLS is not available on this system (%1).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot read %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 holds no PEM certificate.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 holds no unencrypted PEM private key.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>HTTPS with the certificate for %1, valid until %2.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It has expired: clients will refuse it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>For this run, %1 sets this; the value saved here is used at a launch without it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Set by the command line or the environment for this run, so the saved value is not used now: %1. What you save here applies at a launch without them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Database file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PEM files (*.pem *.crt *.cer *.key);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>agmem::TopicsModel</name>
    <message>
        <source>Topic</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Merged count</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
