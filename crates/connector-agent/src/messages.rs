//! Reading tool calls out of model responses and building tool-result messages, per dialect.
