import { estimateTokens, type ChatMessage } from '@pai/model-provider';

/** Per-message framing overhead of chat templates (role markers, separators). */
const MESSAGE_OVERHEAD_TOKENS = 4;

export function messageTokens(message: ChatMessage): number {
  return estimateTokens(message.content) + MESSAGE_OVERHEAD_TOKENS;
}

export interface PromptInput {
  systemPrompt: string;
  /** Earlier messages, oldest first. */
  history: ChatMessage[];
  userMessage: string;
  /** The model's context window. */
  contextTokens: number;
  /** Reserved for the answer. */
  maxOutputTokens: number;
}

/**
 * System prompt, as many of the most recent earlier messages as fit the context budget, then the user's
 * message. Older messages are dropped first; the system prompt and the new message always go.
 */
export function buildPrompt(input: PromptInput): { messages: ChatMessage[]; droppedMessages: number; promptTokens: number } {
  const system: ChatMessage = { role: 'system', content: input.systemPrompt };
  const user: ChatMessage = { role: 'user', content: input.userMessage };
  let budget = input.contextTokens - input.maxOutputTokens - messageTokens(system) - messageTokens(user);
  const kept: ChatMessage[] = [];
  for (let i = input.history.length - 1; i >= 0; i--) {
    const message = input.history[i]!;
    const cost = messageTokens(message);
    if (cost > budget) break;
    budget -= cost;
    kept.unshift(message);
  }
  const messages = [system, ...kept, user];
  const promptTokens = messages.reduce((sum, m) => sum + messageTokens(m), 0);
  return { messages, droppedMessages: input.history.length - kept.length, promptTokens };
}
