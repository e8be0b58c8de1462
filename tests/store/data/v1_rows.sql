-- One or more rows in every table of schema version 1, as a version-1 library would hold them.
INSERT INTO meta (key, value) VALUES ('seeded_from', 'specql 0.1'), ('counter', '7');
INSERT INTO languages (name, display_name, kind, file_extension) VALUES
    ('postgresql', 'PostgreSQL', 'sql', '.sql'),
    ('django', 'Django', 'python', '.py');
INSERT INTO patterns (id, name, category, description, parameters, examples, source) VALUES
    (1, 'declare_variable', 'variables', 'Declare a local variable; optionally initialised.',
     '{"type": "object", "required": ["name", "type"]}',
     '[{"params": {"name": "total", "type": "integer"}}]', 'manual'),
    (2, 'exists_check', 'queries', '', '{}', '[]', 'discovered');
INSERT INTO pattern_implementations (pattern_id, language, fragment, template) VALUES
    (1, 'postgresql', 'declaration', '{{ name }} {{ type | sql_type }};'),
    (1, 'django', 'statement', '{{ name }} = None'),
    (2, 'postgresql', 'statement', 'IF EXISTS ({{ query }}) THEN');
INSERT INTO universal_types (name, kind, description) VALUES
    ('text', 'basic', 'Text of any length'),
    ('email', 'rich', 'An e-mail address');
INSERT INTO type_mappings (universal_type, language, native) VALUES
    ('text', 'postgresql', 'TEXT'),
    ('text', 'django', 'models.TextField'),
    ('email', 'postgresql', 'TEXT');
INSERT INTO expression_patterns (name, language, template) VALUES
    ('eq', 'postgresql', '{{ left }} = {{ right }}'),
    ('eq', 'django', '{{ left }} == {{ right }}');
INSERT INTO language_capabilities (language, capability, supported, note) VALUES
    ('postgresql', 'triggers', 1, ''),
    ('django', 'triggers', 0, 'signals instead');
INSERT INTO domain_patterns
    (id, name, category, description, parameters, implementation, requires, conflicts, tests,
     times_instantiated, popularity, source)
VALUES
    (1, 'soft_delete', 'lifecycle', 'Rows are marked deleted, never removed.', '{}',
     '{"fields": {"deleted_at": "timestamp"}}', '[]', '["hard_delete"]', '{}', 3, 0.5,
     'llm_generated');
INSERT INTO entity_templates
    (id, name, namespace, template_name, description, entity, config, body, times_instantiated,
     source)
VALUES
    (1, 'crm.contact', 'crm', 'contact', 'A person an organisation sells to.', 'Contact', '{}',
     '{"fields": {"email": "email!"}}', 2, 'migrated'),
    (2, 'crm.company', 'crm', 'company', '', 'Company', '{}', '{"fields": {"name": "text!"}}', 0,
     'manual');
INSERT INTO entity_template_dependencies (template_id, depends_on) VALUES (1, 'crm.company');
INSERT INTO pattern_instantiations (tier, pattern, entity, schema_name, params) VALUES
    (2, 'soft_delete', 'Contact', 'crm', '{}'),
    (3, 'crm.contact', 'Contact', NULL, '{"with_address": true}');
